//! Work cut into numbered pieces and done on several threads, with the results in piece order, so that
//! what comes out is what doing the pieces one after the other gives. The browser's wasm has no threads:
//! there, and with one worker, the pieces are done in order on the calling thread.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether the target has threads (the browser's wasm has none, so its binary leaves that code out).
pub(crate) const THREADS: bool = cfg!(not(target_arch = "wasm32"));

/// How many threads to use for `bytes` of work-sized input: one below `from` bytes and where there are no
/// threads, else as many as the machine has cores, up to 4.
pub(crate) fn workers(bytes: usize, from: usize) -> usize {
    if !THREADS || bytes < from {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Does `work(state, piece)` for every piece in `0..pieces`, each thread with its own state from
/// `states` (one thread per state, the calling one included), and returns the results in piece order.
/// Threads take the next piece not taken yet, so that a thread the machine runs late does fewer.
pub(crate) fn run<S: Send, T: Send>(
    pieces: usize,
    states: &mut [S],
    work: impl Fn(&mut S, usize) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let take = |state: &mut S| {
        let mut done = Vec::new();
        loop {
            let piece = next.fetch_add(1, Ordering::Relaxed);
            if piece >= pieces {
                return done;
            }
            done.push((piece, work(state, piece)));
        }
    };
    let Some((first, others)) = states.split_first_mut() else {
        return Vec::new();
    };
    let helpers = if THREADS { others.len().min(pieces.saturating_sub(1)) } else { 0 };
    let others = &mut others[..helpers];
    if !THREADS || others.is_empty() {
        return take(first).into_iter().map(|(_, t)| t).collect();
    }
    let mut done = std::thread::scope(|s| {
        // A thread the system refuses to start is done without: the others take its pieces.
        let handles: Vec<_> =
            others.iter_mut().filter_map(|st| std::thread::Builder::new().spawn_scoped(s, || take(st)).ok()).collect();
        let mut done = take(first);
        for h in handles {
            done.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        done
    });
    done.sort_unstable_by_key(|(piece, _)| *piece);
    done.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::run;

    #[test]
    fn results_come_in_piece_order_whatever_thread_did_them() {
        let mut states = vec![0usize; 3];
        let out = run(100, &mut states, |done, piece| {
            *done += 1;
            piece * 2
        });
        assert_eq!(out, (0..100).map(|p| p * 2).collect::<Vec<_>>());
        assert_eq!(states.iter().sum::<usize>(), 100);
    }

    #[test]
    fn no_pieces_and_no_states_give_nothing() {
        assert!(run(0, &mut [(); 2], |_, p| p).is_empty());
        assert!(run(5, &mut [] as &mut [()], |_, p| p).is_empty());
    }
}
