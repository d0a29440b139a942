//! The event queue: ordered by time, then by insertion sequence, so
//! simultaneous events run in the order they were scheduled, every run.
//!
//! Events whose times never decrease (a workload's arrivals) may go to an
//! in-order lane, a plain FIFO that costs no heap sift; the queue pops the
//! earliest (time, sequence) of the lane's front and the heap's top, so the
//! order is the same as if every event were in the heap.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::{SimTime, Timestamp};

/// An event scheduled before the current time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event scheduled at {at}, before the current time {now} (clock ticks)")]
pub struct PastEvent {
    /// When it was asked for, in clock ticks.
    pub at: u64,
    /// The clock then, in clock ticks.
    pub now: u64,
}

struct Entry<E, T> {
    time: T,
    sequence: u64,
    event: E,
}

impl<E, T: Timestamp> PartialEq for Entry<E, T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.sequence) == (other.time, other.sequence)
    }
}

impl<E, T: Timestamp> Eq for Entry<E, T> {}

impl<E, T: Timestamp> PartialOrd for Entry<E, T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E, T: Timestamp> Ord for Entry<E, T> {
    /// Reversed, so the max-heap pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.sequence).cmp(&(self.time, self.sequence))
    }
}

/// Pending events and the simulation clock, in time units `T` (the
/// deployment simulator's milliseconds by default).
pub struct EventQueue<E, T = SimTime> {
    heap: BinaryHeap<Entry<E, T>>,
    lane: VecDeque<Entry<E, T>>,
    next_sequence: u64,
    now: T,
}

impl<E, T: Timestamp> Default for EventQueue<E, T> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            lane: VecDeque::new(),
            next_sequence: 0,
            now: T::default(),
        }
    }
}

impl<E, T: Timestamp> EventQueue<E, T> {
    /// The time of the last event popped.
    pub fn now(&self) -> T {
        self.now
    }

    /// Schedules `event` at `time`, which may not be in the past.
    pub fn schedule(&mut self, time: T, event: E) -> Result<(), PastEvent> {
        let entry = self.entry(time, event)?;
        self.heap.push(entry);
        Ok(())
    }

    /// Schedules `event` at `time` in the in-order lane: `time` may be
    /// neither in the past nor before the lane's last event.
    pub fn schedule_in_order(&mut self, time: T, event: E) -> Result<(), PastEvent> {
        if let Some(last) = self.lane.back() {
            if time < last.time {
                return Err(PastEvent {
                    at: time.ticks(),
                    now: last.time.ticks(),
                });
            }
        }
        let entry = self.entry(time, event)?;
        self.lane.push_back(entry);
        Ok(())
    }

    fn entry(&mut self, time: T, event: E) -> Result<Entry<E, T>, PastEvent> {
        if time < self.now {
            return Err(PastEvent {
                at: time.ticks(),
                now: self.now.ticks(),
            });
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        Ok(Entry {
            time,
            sequence,
            event,
        })
    }

    /// Whether the lane holds the next event (rather than the heap).
    fn lane_first(&self) -> bool {
        match (self.lane.front(), self.heap.peek()) {
            (Some(lane), Some(heap)) => (lane.time, lane.sequence) < (heap.time, heap.sequence),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// When the next event is due.
    pub fn next_time(&self) -> Option<T> {
        if self.lane_first() {
            self.lane.front().map(|e| e.time)
        } else {
            self.heap.peek().map(|e| e.time)
        }
    }

    /// Removes the next event and advances the clock to it.
    pub fn pop(&mut self) -> Option<(T, E)> {
        let entry = if self.lane_first() {
            self.lane.pop_front()
        } else {
            self.heap.pop()
        }?;
        self.now = entry.time;
        Some((entry.time, entry.event))
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lane.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_by_time_then_insertion_order() {
        let mut q = EventQueue::default();
        for (t, name) in [(5, "c"), (1, "a"), (5, "d"), (1, "b"), (3, "x")] {
            q.schedule(SimTime(t), name).unwrap();
        }
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|e| e.1)).collect();
        assert_eq!(order, ["a", "b", "x", "c", "d"]);
        assert_eq!(q.now(), SimTime(5));
    }

    #[test]
    fn the_in_order_lane_merges_with_the_heap_by_time_then_sequence() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(5), "heap 5").unwrap();
        q.schedule_in_order(SimTime(1), "lane 1").unwrap();
        q.schedule_in_order(SimTime(5), "lane 5").unwrap();
        q.schedule(SimTime(1), "heap 1").unwrap();
        q.schedule_in_order(SimTime(7), "lane 7").unwrap();
        q.schedule(SimTime(6), "heap 6").unwrap();
        assert_eq!(q.len(), 6);
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|e| e.1)).collect();
        assert_eq!(
            order,
            ["lane 1", "heap 1", "heap 5", "lane 5", "heap 6", "lane 7"]
        );
        assert!(q.is_empty());
        let mut q = EventQueue::default();
        q.schedule_in_order(SimTime(4), ()).unwrap();
        assert_eq!(
            q.schedule_in_order(SimTime(3), ()),
            Err(PastEvent { at: 3, now: 4 })
        );
    }

    #[test]
    fn scheduling_into_the_past_is_an_error() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(10), ()).unwrap();
        q.pop();
        assert_eq!(
            q.schedule(SimTime(9), ()),
            Err(PastEvent { at: 9, now: 10 })
        );
        assert!(q.schedule(SimTime(10), ()).is_ok());
    }
}
