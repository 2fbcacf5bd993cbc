//! The prompt's three-way merge, line by line: the hunks that change ours and theirs from the base are
//! grouped where they touch the same base lines; a group changed by one side takes that side, a group
//! both sides changed alike takes the change, and any other group is a conflict.

use std::ops::Range;

use serde::Serialize;
use similar::{Algorithm, DiffTag, capture_diff_slices};

/// Where a conflicting hunk is, as a unified diff counts: 1-based first line and number of lines, in
/// the base, ours and theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptHunk {
    pub base_start: usize,
    pub base_lines: usize,
    pub ours_start: usize,
    pub ours_lines: usize,
    pub theirs_start: usize,
    pub theirs_lines: usize,
}

/// One conflicting hunk: each side's lines (with their line ends) and where they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PromptConflict {
    pub base: String,
    pub ours: String,
    pub theirs: String,
    pub hunk: PromptHunk,
}

/// The merged prompt: clean text, and the places of the conflicts (by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Text(String),
    Conflict(usize),
}

/// A change of one side: base lines `base` became that side's lines `side`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    base: Range<usize>,
    side: Range<usize>,
}

fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The changes from `base` to `side`, touching changes joined into one.
fn hunks(base: &[&str], side: &[&str]) -> Vec<Hunk> {
    let mut hunks: Vec<Hunk> = Vec::new();
    for op in capture_diff_slices(Algorithm::Myers, base, side) {
        let (tag, base_range, side_range) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        match hunks.last_mut() {
            Some(last) if last.base.end == base_range.start && last.side.end == side_range.start => {
                last.base.end = base_range.end;
                last.side.end = side_range.end;
            }
            _ => hunks.push(Hunk { base: base_range, side: side_range }),
        }
    }
    hunks
}

/// Merges `ours` and `theirs`, both made from `base`.
pub(super) fn merge(base: &str, ours: &str, theirs: &str) -> (Vec<Segment>, Vec<PromptConflict>) {
    let (b, o, t) = (lines(base), lines(ours), lines(theirs));
    let (ours_hunks, theirs_hunks) = (hunks(&b, &o), hunks(&b, &t));
    let (mut i, mut j) = (0, 0);
    // Where the base has been copied up to, and how far each side's line numbers have moved from the base's.
    let mut position = 0;
    let (mut ours_shift, mut theirs_shift) = (0isize, 0isize);
    let mut segments = Vec::new();
    let mut conflicts = Vec::new();
    let mut text = String::new();
    loop {
        let start = match (ours_hunks.get(i), theirs_hunks.get(j)) {
            (None, None) => break,
            (Some(h), None) | (None, Some(h)) => h.base.start,
            (Some(a), Some(b)) => a.base.start.min(b.base.start),
        };
        let mut end = start;
        let (first_ours, first_theirs) = (i, j);
        // Gather every hunk of either side that overlaps the group, or starts where it starts.
        loop {
            let touches = |h: &Hunk| h.base.start < end || h.base.start == start;
            if let Some(h) = ours_hunks.get(i).filter(|h| touches(h)) {
                end = end.max(h.base.end);
                i += 1;
            } else if let Some(h) = theirs_hunks.get(j).filter(|h| touches(h)) {
                end = end.max(h.base.end);
                j += 1;
            } else {
                break;
            }
        }
        text.extend(b[position..start].iter().copied());
        let side_range = |shift: isize, group: &[Hunk]| {
            let grown: isize = group.iter().map(|h| h.side.len() as isize - h.base.len() as isize).sum();
            let from = (start as isize + shift) as usize;
            (from..(end as isize + shift + grown) as usize, grown)
        };
        let (ours_range, ours_grown) = side_range(ours_shift, &ours_hunks[first_ours..i]);
        let (theirs_range, theirs_grown) = side_range(theirs_shift, &theirs_hunks[first_theirs..j]);
        let ours_text: String = o[ours_range.clone()].concat();
        let theirs_text: String = t[theirs_range.clone()].concat();
        let ours_changed = i > first_ours;
        let theirs_changed = j > first_theirs;
        if !theirs_changed || ours_text == theirs_text {
            text.push_str(&ours_text);
        } else if !ours_changed {
            text.push_str(&theirs_text);
        } else {
            if !text.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut text)));
            }
            segments.push(Segment::Conflict(conflicts.len()));
            conflicts.push(PromptConflict {
                base: b[start..end].concat(),
                ours: ours_text,
                theirs: theirs_text,
                hunk: PromptHunk {
                    base_start: start + 1,
                    base_lines: end - start,
                    ours_start: ours_range.start + 1,
                    ours_lines: ours_range.len(),
                    theirs_start: theirs_range.start + 1,
                    theirs_lines: theirs_range.len(),
                },
            });
        }
        ours_shift += ours_grown;
        theirs_shift += theirs_grown;
        position = end;
    }
    text.extend(b[position..].iter().copied());
    if !text.is_empty() {
        segments.push(Segment::Text(text));
    }
    (segments, conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The merged text, each conflict shown as ours (what an unresolved merge holds).
    fn merged(base: &str, ours: &str, theirs: &str) -> (String, Vec<PromptConflict>) {
        let (segments, conflicts) = merge(base, ours, theirs);
        let text = segments
            .iter()
            .map(|s| match s {
                Segment::Text(t) => t.clone(),
                Segment::Conflict(i) => conflicts[*i].ours.clone(),
            })
            .collect();
        (text, conflicts)
    }

    const BASE: &str = "one\ntwo\nthree\nfour\nfive\n";

    #[test]
    fn changes_to_different_lines_combine() {
        let (text, conflicts) = merged(BASE, "ONE\ntwo\nthree\nfour\nfive\n", "one\ntwo\nthree\nfour\nFIVE\nsix\n");
        assert!(conflicts.is_empty());
        assert_eq!(text, "ONE\ntwo\nthree\nfour\nFIVE\nsix\n");
    }

    #[test]
    fn adjacent_changes_on_separate_lines_combine() {
        let (text, conflicts) = merged(BASE, "one\nTWO\nthree\nfour\nfive\n", "one\ntwo\nTHREE\nfour\nfive\n");
        assert!(conflicts.is_empty());
        assert_eq!(text, "one\nTWO\nTHREE\nfour\nfive\n");
    }

    #[test]
    fn the_same_change_on_both_sides_is_taken_once() {
        let both = "one\n2\nthree\nfour\nfive\nsix\n";
        let (text, conflicts) = merged(BASE, both, both);
        assert!(conflicts.is_empty());
        assert_eq!(text, both);
    }

    #[test]
    fn one_side_unchanged_takes_the_other() {
        let theirs = "zero\none\nthree\nfour\nfive\n";
        assert_eq!(merged(BASE, BASE, theirs).0, theirs);
        assert_eq!(merged(BASE, theirs, BASE).0, theirs);
        assert_eq!(merged(BASE, BASE, BASE).0, BASE);
    }

    #[test]
    fn different_changes_to_the_same_line_conflict_with_their_lines() {
        let ours = "ONE\ntwo\nthree\nfour\nfive!\n";
        let theirs = "uno\ntwo\nthree\nfour\nFIVE\n";
        let (text, conflicts) = merged(BASE, ours, theirs);
        assert_eq!(conflicts.len(), 2);
        assert_eq!((conflicts[0].base.as_str(), conflicts[0].ours.as_str()), ("one\n", "ONE\n"));
        assert_eq!(conflicts[0].theirs, "uno\n");
        assert_eq!(
            conflicts[1].hunk,
            PromptHunk { base_start: 5, base_lines: 1, ours_start: 5, ours_lines: 1, theirs_start: 5, theirs_lines: 1 }
        );
        assert_eq!(text, ours, "unresolved, each conflict holds ours");
    }

    #[test]
    fn line_numbers_follow_each_sides_earlier_changes() {
        // Ours adds two lines at the top; theirs removes one; both change line 4 differently.
        let ours = "a\nb\none\ntwo\nthree\nFOUR\nfive\n";
        let theirs = "one\nthree\nfour?\nfive\n";
        let (_, conflicts) = merged(BASE, ours, theirs);
        assert_eq!(conflicts.len(), 1);
        let hunk = &conflicts[0].hunk;
        assert_eq!((hunk.base_start, hunk.ours_start, hunk.theirs_start), (4, 6, 3));
        assert_eq!((conflicts[0].ours.as_str(), conflicts[0].theirs.as_str()), ("FOUR\n", "four?\n"));
    }

    #[test]
    fn insertions_at_the_same_place_conflict_unless_equal() {
        let ours = "one\nA\ntwo\nthree\nfour\nfive\n";
        let theirs = "one\nB\ntwo\nthree\nfour\nfive\n";
        let (_, conflicts) = merged(BASE, ours, theirs);
        assert_eq!(conflicts.len(), 1);
        assert_eq!((conflicts[0].base.as_str(), conflicts[0].hunk.base_lines), ("", 0));
        assert!(merged(BASE, ours, ours).1.is_empty());
    }

    #[test]
    fn a_prompt_without_a_final_newline_merges() {
        let (text, conflicts) = merged("a\nb", "A\nb", "a\nB");
        assert!(conflicts.is_empty());
        assert_eq!(text, "A\nB");
    }
}
