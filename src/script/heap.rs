//! The global allocator: mimalloc, with a per-thread count of the heap bytes
//! each thread holds, so that one check evaluation is held to its own memory
//! budget whatever the other threads do.
//!
//! This is the crate's only `unsafe` code (the crate denies `unsafe_code`,
//! and this module alone allows it): implementing [`GlobalAlloc`] is an
//! unsafe trait by definition. No maintained crate counts allocations per
//! thread around mimalloc (`cap` and `stats_alloc` count process-wide, which
//! made a CPU-bound check fail "over its memory limit" when a neighbour
//! thread used the memory), so this module delegates every call to mimalloc
//! unchanged and only adds or subtracts the layout's size from a thread-local
//! counter. The counter is a `const`-initialised `Cell` without a destructor:
//! reading it never allocates and never registers anything, which is what an
//! allocator may do.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

use mimalloc::MiMalloc;

/// mimalloc, counting the bytes allocated minus the bytes freed on each thread.
pub struct CountingAllocator;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with` fails only while the thread is being torn down; nothing is
    // measured then.
    let _ = HELD.try_with(|held| held.set(held.get().wrapping_add(delta)));
}

/// Bytes allocated minus bytes freed by the calling thread since it started.
/// It can be negative (a thread that frees memory another thread allocated);
/// only differences between two readings on one thread mean something.
pub fn thread_held() -> isize {
    HELD.try_with(Cell::get).unwrap_or(0)
}

fn signed(size: usize) -> isize {
    isize::try_from(size).unwrap_or(isize::MAX)
}

// SAFETY: every method delegates to mimalloc with the caller's arguments and
// returns its result unchanged; the only addition is arithmetic on a
// thread-local integer, which neither allocates nor touches the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let pointer = unsafe { MiMalloc.alloc(layout) };
        if !pointer.is_null() {
            count(signed(layout.size()));
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { MiMalloc.alloc_zeroed(layout) };
        if !pointer.is_null() {
            count(signed(layout.size()));
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract, passed on as is.
        unsafe { MiMalloc.dealloc(pointer, layout) };
        count(-signed(layout.size()));
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on as is.
        let moved = unsafe { MiMalloc.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            count(signed(new_size).wrapping_sub(signed(layout.size())));
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_threads_allocations_only() {
        let before = thread_held();
        let block = vec![0_u8; 1 << 20];
        assert!(thread_held() - before >= 1 << 20);
        let other = std::thread::spawn(|| {
            let start = thread_held();
            let big = vec![1_u8; 8 << 20];
            let grown = thread_held() - start;
            drop(big);
            grown
        });
        let grown_there = other.join().expect("thread");
        assert!(grown_there >= 8 << 20);
        assert!(thread_held() - before < 2 << 20, "another thread's allocation was counted here");
        drop(block);
        assert!(thread_held() - before < 4096);
    }
}
