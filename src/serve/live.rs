//! The requests in a serving run's system, each in a reusable slot.

/// A request in the system.
#[derive(Debug, Clone, Copy)]
pub(super) struct Live {
    pub(super) arrival: u64,
    pub(super) admitted: u64,
    pub(super) first_token: u64,
    pub(super) prompt: u32,
    pub(super) output: u32,
}

/// Not yet (a sentinel time).
pub(super) const NOT_YET: u64 = u64::MAX;

/// Requests in the system, by slot; freed slots are reused.
#[derive(Debug, Default)]
pub(super) struct LiveSet {
    pub(super) slots: Vec<Live>,
    free: Vec<u32>,
}

impl LiveSet {
    pub(super) fn insert(&mut self, live: Live) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = live;
                id
            }
            None => {
                self.slots.push(live);
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub(super) fn remove(&mut self, id: u32) -> Live {
        self.free.push(id);
        self.slots[id as usize]
    }
}
