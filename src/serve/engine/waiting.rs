//! The waiting queue in vLLM's two orders: first come first served (a
//! preempted request goes back to the head), or by priority then arrival (a
//! preempted request rejoins at its place).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::SchedulingPolicy;

/// What the queue orders by: a request's priority and arrival number.
pub(super) trait Queued {
    /// `(priority, arrival)`: lower first.
    fn order(&self) -> (i32, u64);
}

/// A heap entry ordered by the request's `(priority, arrival)`.
#[derive(Debug, Clone)]
pub(super) struct ByOrder<T>(T);

impl<T: Queued> PartialEq for ByOrder<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.order() == other.0.order()
    }
}

impl<T: Queued> Eq for ByOrder<T> {}

impl<T: Queued> PartialOrd for ByOrder<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Queued> Ord for ByOrder<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.order().cmp(&other.0.order())
    }
}

/// Requests waiting for admission.
#[derive(Debug, Clone)]
pub(super) enum Waiting<T> {
    /// Arrival order, preempted requests at the head.
    Fcfs(VecDeque<T>),
    /// Smallest `(priority, arrival)` first.
    Priority(BinaryHeap<Reverse<ByOrder<T>>>),
}

impl<T: Queued> Waiting<T> {
    /// An empty queue for `policy`.
    pub(super) fn new(policy: SchedulingPolicy) -> Waiting<T> {
        match policy {
            SchedulingPolicy::Fcfs => Waiting::Fcfs(VecDeque::new()),
            SchedulingPolicy::Priority => Waiting::Priority(BinaryHeap::new()),
        }
    }

    /// Adds a newly arrived request.
    pub(super) fn push(&mut self, item: T) {
        match self {
            Waiting::Fcfs(queue) => queue.push_back(item),
            Waiting::Priority(heap) => heap.push(Reverse(ByOrder(item))),
        }
    }

    /// Puts back a preempted request (vLLM's `prepend_request`).
    pub(super) fn prepend(&mut self, item: T) {
        match self {
            Waiting::Fcfs(queue) => queue.push_front(item),
            Waiting::Priority(heap) => heap.push(Reverse(ByOrder(item))),
        }
    }

    /// The next request to admit.
    pub(super) fn peek(&self) -> Option<&T> {
        match self {
            Waiting::Fcfs(queue) => queue.front(),
            Waiting::Priority(heap) => heap.peek().map(|Reverse(ByOrder(item))| item),
        }
    }

    /// Takes the next request to admit.
    pub(super) fn pop(&mut self) -> Option<T> {
        match self {
            Waiting::Fcfs(queue) => queue.pop_front(),
            Waiting::Priority(heap) => heap.pop().map(|Reverse(ByOrder(item))| item),
        }
    }

    /// Sorts a first-come queue by `(priority, arrival)` (vLLM V0 sorts its
    /// deque so under its priority policy); a priority queue is sorted
    /// already.
    pub(super) fn sort(&mut self) {
        if let Waiting::Fcfs(queue) = self {
            queue.make_contiguous().sort_by_key(Queued::order);
        }
    }

    /// Requests waiting.
    pub(super) fn len(&self) -> usize {
        match self {
            Waiting::Fcfs(queue) => queue.len(),
            Waiting::Priority(heap) => heap.len(),
        }
    }

    /// Every waiting request, in no particular order.
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = &T> + '_> {
        match self {
            Waiting::Fcfs(queue) => Box::new(queue.iter()),
            Waiting::Priority(heap) => Box::new(heap.iter().map(|Reverse(ByOrder(item))| item)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Queued for (i32, u64) {
        fn order(&self) -> (i32, u64) {
            *self
        }
    }

    #[test]
    fn fcfs_puts_a_preempted_request_first_and_priority_at_its_place() {
        let mut fcfs = Waiting::new(SchedulingPolicy::Fcfs);
        let mut priority = Waiting::new(SchedulingPolicy::Priority);
        for queue in [&mut fcfs, &mut priority] {
            queue.push((1, 0));
            queue.push((0, 1));
            queue.prepend((2, 2));
        }
        let drain = |mut queue: Waiting<(i32, u64)>| {
            std::iter::from_fn(move || queue.pop()).collect::<Vec<_>>()
        };
        assert_eq!(drain(fcfs), [(2, 2), (1, 0), (0, 1)]);
        assert_eq!(drain(priority), [(0, 1), (1, 0), (2, 2)]);
    }
}
