//! A node's books in the scheduler, and how a policy chooses among nodes
//! for a gang (a replica spanning several GPUs, all on one node or not at
//! all).

use crate::hardware::{HostDemand, NodeShape};
use crate::units::Mib;

/// How a policy chooses among the nodes that can take a gang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRule {
    /// The first node in index order.
    First,
    /// The node with the least free GPU memory that can take it: a small
    /// gang fills a node already in use and empty nodes stay whole for
    /// large gangs.
    Tightest,
    /// The node with the most free GPU memory.
    Loosest,
}

/// One node's books: its GPUs (a contiguous range of the fleet) and what
/// its host has left.
#[derive(Debug, Clone)]
pub(crate) struct NodeBooks {
    /// The node's shape (its `gpus` is the most it may hold).
    pub shape: NodeShape,
    /// Every GPU of the node is laid out like this (an index into the
    /// scheduler's distinct layouts).
    pub layout: u32,
    /// Index of the node's first GPU in the fleet.
    pub first_gpu: u32,
    /// GPUs the node holds so far.
    pub gpus: u32,
    /// CPU charged, thousandths of a core.
    pub cpu_used: u64,
    /// Host memory charged.
    pub memory_used: Mib,
    /// Whether more GPUs may join.
    pub open: bool,
}

impl NodeBooks {
    /// An empty node whose first GPU is `first_gpu`, laid out as `layout`.
    pub fn new(shape: NodeShape, layout: u32, first_gpu: u32) -> NodeBooks {
        NodeBooks {
            shape,
            layout,
            first_gpu,
            gpus: 0,
            cpu_used: 0,
            memory_used: Mib::ZERO,
            open: true,
        }
    }

    /// Whether a GPU laid out as `layout` may join this node.
    pub fn takes(&self, layout: u32) -> bool {
        self.open && self.gpus < self.shape.gpus && self.layout == layout
    }

    /// The fleet indexes of the node's GPUs.
    pub fn gpu_range(&self) -> std::ops::Range<usize> {
        self.first_gpu as usize..(self.first_gpu + self.gpus) as usize
    }

    /// Whether the host has `host` left now.
    #[inline]
    pub fn has_room(&self, host: HostDemand) -> bool {
        self.cpu_used + u64::from(host.cpu_milli) <= self.shape.cpu_milli
            && self.memory_used + host.memory <= self.shape.memory
    }

    /// Charges `host` (the caller checked [`NodeBooks::has_room`]).
    pub fn charge(&mut self, host: HostDemand) {
        self.cpu_used += u64::from(host.cpu_milli);
        self.memory_used += host.memory;
        debug_assert!(
            self.cpu_used <= self.shape.cpu_milli && self.memory_used <= self.shape.memory
        );
    }

    /// Refunds `host`, charged before.
    pub fn refund(&mut self, host: HostDemand) {
        self.cpu_used -= u64::from(host.cpu_milli);
        self.memory_used -= host.memory;
    }
}
