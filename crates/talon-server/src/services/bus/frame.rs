//! What travels between replicas: one line of text per message, `<replica> <name> <payload>`. The
//! replica id lets a replica skip its own messages (the transports echo them back, and this replica's
//! subscribers already heard them when they were published); the name is the topic's
//! (`Topic::channel`), or the heartbeat's.

/// PostgreSQL refuses a `NOTIFY` payload of 8000 bytes or more; the same bound holds on Redis so that
/// a message that goes through one transport goes through the other.
pub(super) const MAX_FRAME: usize = 7_999;

/// The name of the message a replica sends itself to check that its own messages come back.
pub(super) const HEARTBEAT: &str = "talon_heartbeat";

/// A new replica id: 16 hex digits, different for every process.
pub(super) fn replica_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The frame of a message, or `None` when it is too long to send or would not read back (a name with
/// a space, a replica id with one).
pub(super) fn encode(replica: &str, name: &str, payload: &str) -> Option<String> {
    if replica.contains(' ') || name.contains(' ') || name.is_empty() {
        return None;
    }
    let frame = format!("{replica} {name} {payload}");
    (frame.len() <= MAX_FRAME).then_some(frame)
}

/// A frame as received.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Incoming<'a> {
    /// This replica's own message, come back: only its name matters (heartbeats).
    Own { name: &'a str },
    /// Another replica's message.
    Other { name: &'a str, payload: &'a str },
    /// Not a frame (another program on the channel).
    Malformed,
}

pub(super) fn decode<'a>(frame: &'a str, own_replica: &str) -> Incoming<'a> {
    let Some((replica, rest)) = frame.split_once(' ') else { return Incoming::Malformed };
    let (name, payload) = rest.split_once(' ').unwrap_or((rest, ""));
    if replica.is_empty() || name.is_empty() {
        return Incoming::Malformed;
    }
    if replica == own_replica { Incoming::Own { name } } else { Incoming::Other { name, payload } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_as_it_was_written_and_a_replica_recognises_its_own() {
        let frame = encode("aaaa", "talon_invalidate", "key:ab cd").unwrap();
        assert_eq!(frame, "aaaa talon_invalidate key:ab cd");
        assert_eq!(decode(&frame, "bbbb"), Incoming::Other { name: "talon_invalidate", payload: "key:ab cd" });
        assert_eq!(decode(&frame, "aaaa"), Incoming::Own { name: "talon_invalidate" });
        let empty = encode("aaaa", "talon_tasks_queued", "").unwrap();
        assert_eq!(decode(&empty, "bbbb"), Incoming::Other { name: "talon_tasks_queued", payload: "" });
    }

    #[test]
    fn frames_too_long_for_notify_are_refused() {
        let room = MAX_FRAME - "aaaa talon_invalidate ".len();
        assert!(encode("aaaa", "talon_invalidate", &"x".repeat(room)).is_some());
        assert!(encode("aaaa", "talon_invalidate", &"x".repeat(room + 1)).is_none());
    }

    #[test]
    fn what_is_not_a_frame_is_told_apart() {
        assert_eq!(decode("hello", "aaaa"), Incoming::Malformed);
        assert_eq!(decode(" talon_invalidate x", "aaaa"), Incoming::Malformed);
        assert_eq!(decode("bbbb  x", "aaaa"), Incoming::Malformed);
        assert!(encode("a b", "talon_invalidate", "").is_none());
        assert!(encode("aaaa", "two words", "").is_none());
    }

    #[test]
    fn replica_ids_differ() {
        assert_ne!(replica_id(), replica_id());
        assert_eq!(replica_id().len(), 16);
    }
}
