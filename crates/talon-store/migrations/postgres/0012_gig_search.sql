-- Gig search: the skills filter, and the sorts whose tie-break (id, newest first) runs against the
-- direction of their key, each with an index over listed gigs that yields its whole order.

-- A gig's required skills in lower case, one row each, so `skills=a,b` (any of) is an index lookup.
CREATE TABLE gig_skills (
    skill  TEXT NOT NULL,
    gig_id UUID NOT NULL REFERENCES gigs (id) ON DELETE CASCADE,
    PRIMARY KEY (skill, gig_id)
);
CREATE INDEX gig_skills_by_gig ON gig_skills (gig_id);

CREATE INDEX gigs_listed_budget_asc ON gigs (budget_micros, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';
-- Soonest deadline first, gigs without one last.
CREATE INDEX gigs_listed_deadline_first ON gigs ((deadline IS NULL), deadline, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';

-- A category filter with a budget or deadline sort walks one of these in order and stops at the page.
CREATE INDEX gigs_listed_category_budget ON gigs (category, budget_micros, id)
    WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_listed_category_budget_asc ON gigs (category, budget_micros, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_listed_category_deadline ON gigs (category, (deadline IS NULL), deadline, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';
