//! `AgedMap`: a bounded map whose entries are served only while they can still be trusted: younger
//! than the maximum age, filled in the bus's current epoch while the bus is trusted, and not filled
//! from a read that raced a removal.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::services::bus::Bus;

/// Whether cached entries may be served: the bus's view of its own delivery.
pub trait Freshness {
    /// False while invalidations from other replicas may be missed.
    fn trusted(&self) -> bool;
    /// Moves whenever invalidations may have been missed; entries of an earlier epoch are not served.
    fn epoch(&self) -> u64;
}

impl Freshness for Bus {
    fn trusted(&self) -> bool {
        Bus::trusted(self)
    }

    fn epoch(&self) -> u64 {
        Bus::epoch(self)
    }
}

struct Entry<V> {
    value: V,
    /// When the read that filled it started.
    read_at: Instant,
    epoch: u64,
}

/// Taken before reading what will fill an entry: the fill is kept only if nothing was removed from
/// the map meanwhile (the removal may have been of what was read), and is served only in this epoch.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    removals: u64,
    epoch: u64,
    trusted: bool,
    read_at: Instant,
}

pub struct AgedMap<K, V, F = Bus> {
    entries: RwLock<HashMap<K, Entry<V>>>,
    /// Counts removals; only changed under the write lock, so a fill (also under it) sees every
    /// removal that happened since its ticket.
    removals: AtomicU64,
    capacity: usize,
    max_age: Duration,
    freshness: F,
}

impl<K: Eq + Hash, V: Clone, F: Freshness> AgedMap<K, V, F> {
    pub fn new(capacity: usize, max_age: Duration, freshness: F) -> Self {
        Self {
            entries: RwLock::new(HashMap::with_capacity(capacity.min(1024))),
            removals: AtomicU64::new(0),
            capacity: capacity.max(1),
            max_age,
            freshness,
        }
    }

    /// The entry for `key`, if it may be served now.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if !self.freshness.trusted() {
            return None;
        }
        let epoch = self.freshness.epoch();
        let entries = self.read();
        let entry = entries.get(key)?;
        (entry.epoch == epoch && entry.read_at.elapsed() < self.max_age).then(|| entry.value.clone())
    }

    /// Take before reading the value that will fill an entry.
    pub fn ticket(&self) -> Ticket {
        Ticket {
            removals: self.removals.load(Ordering::Acquire),
            epoch: self.freshness.epoch(),
            trusted: self.freshness.trusted(),
            read_at: Instant::now(),
        }
    }

    /// Keeps `value`, read after `ticket` was taken, unless something was removed since (it may have
    /// been the very value read) or the bus was not trusted when the read began.
    pub fn fill(&self, key: K, value: V, ticket: Ticket) {
        if !ticket.trusted {
            return;
        }
        let mut entries = self.write();
        if self.removals.load(Ordering::Acquire) != ticket.removals {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            self.make_room(&mut entries);
        }
        entries.insert(key, Entry { value, read_at: ticket.read_at, epoch: ticket.epoch });
    }

    /// The entry for `key`, or else what `load` reads, kept for the next caller.
    pub async fn get_or_load<E, Fut>(&self, key: K, load: impl FnOnce() -> Fut) -> Result<Option<V>, E>
    where
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(Some(value));
        }
        let ticket = self.ticket();
        let loaded = load().await?;
        if let Some(value) = &loaded {
            self.fill(key, value.clone(), ticket);
        }
        Ok(loaded)
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let mut entries = self.write();
        entries.remove(key);
        self.removals.fetch_add(1, Ordering::AcqRel);
    }

    /// Removes every entry `stale` picks (a scan: for changes that are rare, such as a revoked key).
    pub fn remove_where(&self, stale: impl Fn(&K, &V) -> bool) {
        let mut entries = self.write();
        entries.retain(|k, e| !stale(k, &e.value));
        self.removals.fetch_add(1, Ordering::AcqRel);
    }

    pub fn clear(&self) {
        let mut entries = self.write();
        entries.clear();
        self.removals.fetch_add(1, Ordering::AcqRel);
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// At capacity: drops what is too old to be served, and if that is not enough, an eighth of the
    /// entries (hash order, so effectively at random). Not a removal: nothing dropped here is stale.
    fn make_room(&self, entries: &mut HashMap<K, Entry<V>>) {
        entries.retain(|_, e| e.read_at.elapsed() < self.max_age);
        if entries.len() >= self.capacity {
            let mut dropping = (self.capacity / 8).max(1);
            entries.retain(|_, _| {
                if dropping == 0 {
                    return true;
                }
                dropping -= 1;
                false
            });
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<K, Entry<V>>> {
        // A panic while holding the lock leaves the map consistent (every change is one call).
        self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<K, Entry<V>>> {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    use super::{AgedMap, Freshness};

    /// A bus whose trust and epoch a test sets.
    #[derive(Clone, Default)]
    pub(crate) struct FakeBus {
        untrusted: Arc<AtomicBool>,
        epoch: Arc<AtomicU64>,
    }

    impl FakeBus {
        pub(crate) fn set_trusted(&self, trusted: bool) {
            self.untrusted.store(!trusted, Ordering::SeqCst);
        }

        pub(crate) fn next_epoch(&self) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Freshness for FakeBus {
        fn trusted(&self) -> bool {
            !self.untrusted.load(Ordering::SeqCst)
        }

        fn epoch(&self) -> u64 {
            self.epoch.load(Ordering::SeqCst)
        }
    }

    fn map(capacity: usize, max_age: Duration) -> (AgedMap<u32, &'static str, FakeBus>, FakeBus) {
        let bus = FakeBus::default();
        (AgedMap::new(capacity, max_age, bus.clone()), bus)
    }

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn a_fill_is_served_until_removed() {
        let (map, _) = map(10, LONG);
        map.fill(1, "one", map.ticket());
        assert_eq!(map.get(&1), Some("one"));
        map.remove(&1);
        assert_eq!(map.get(&1), None);
    }

    #[test]
    fn a_fill_that_raced_a_removal_is_not_kept() {
        let (map, _) = map(10, LONG);
        let ticket = map.ticket();
        // Between the read and the fill, the entry (or any other) was removed: the read may be stale.
        map.remove(&1);
        map.fill(1, "read before the change", ticket);
        assert_eq!(map.get(&1), None);
        map.fill(1, "read after", map.ticket());
        assert_eq!(map.get(&1), Some("read after"));
    }

    #[test]
    fn entries_are_not_served_while_the_bus_is_untrusted_nor_after_its_epoch_moves() {
        let (map, bus) = map(10, LONG);
        map.fill(1, "one", map.ticket());
        bus.set_trusted(false);
        assert_eq!(map.get(&1), None);
        // Nothing read while untrusted is kept, even once trust is back.
        map.fill(2, "two", map.ticket());
        bus.set_trusted(true);
        assert_eq!(map.get(&2), None);
        assert_eq!(map.get(&1), Some("one"));
        bus.next_epoch();
        assert_eq!(map.get(&1), None);
        // A ticket of the old epoch fills an entry the new epoch does not serve.
        let old = map.ticket();
        bus.next_epoch();
        map.fill(3, "three", old);
        assert_eq!(map.get(&3), None);
    }

    #[test]
    fn entries_older_than_the_max_age_are_not_served() {
        let (map, _) = map(10, Duration::from_millis(30));
        map.fill(1, "one", map.ticket());
        assert_eq!(map.get(&1), Some("one"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(map.get(&1), None);
    }

    #[test]
    fn the_map_stays_within_its_capacity() {
        let (map, _) = map(16, LONG);
        for i in 0..1000 {
            map.fill(i, "x", map.ticket());
            assert!(map.len() <= 16);
        }
        assert_eq!(map.get(&999), Some("x"), "the newest fill is kept");
    }

    #[test]
    fn remove_where_and_clear_drop_what_they_pick() {
        let (map, _) = map(10, LONG);
        for i in 0..6 {
            map.fill(i, if i % 2 == 0 { "even" } else { "odd" }, map.ticket());
        }
        map.remove_where(|_, v| *v == "even");
        assert_eq!((map.get(&0), map.get(&1)), (None, Some("odd")));
        map.clear();
        assert_eq!(map.len(), 0);
    }

    #[tokio::test]
    async fn get_or_load_loads_once_and_keeps_only_what_exists() {
        let (map, _) = map(10, LONG);
        let loads = AtomicU64::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(Some("one"))
        };
        assert_eq!(map.get_or_load(1, load).await, Ok(Some("one")));
        assert_eq!(map.get_or_load(1, load).await, Ok(Some("one")));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(map.get_or_load(2, || async { Ok::<_, ()>(None) }).await, Ok(None));
        assert_eq!(map.len(), 1, "a miss is not kept");
    }
}
