//! Data-parallel batches, consumed in order: up to `jobs` batches run at once on engines that
//! share one prepared model, and their results reach the consumer in batch order through a
//! bounded reorder window. Order-dependent consumers (the EMA observer, the streaming histogram
//! whose first batch sets the bin width) therefore see exactly what a one-thread run gives,
//! while memory holds at most `jobs` batches' inputs and outputs.

use crate::backend::Engine;
use crate::internal::*;
use crate::tensor::TensorMap;
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Mutex;

/// How many batches run at once: `CALIBR8_JOBS` if set, else the available cores.
pub fn default_jobs() -> usize {
    std::env::var("CALIBR8_JOBS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Engines for `jobs` workers: the first as given, the others [`Engine::fork`]ed from it (one
/// shared model, a state each) or, where the engine cannot fork, made by `prepare`.
pub fn engines_for(
    first: Box<dyn Engine>,
    jobs: usize,
    prepare: &mut dyn FnMut() -> Result<Box<dyn Engine>>,
) -> Result<Vec<Box<dyn Engine>>> {
    let mut engines = Vec::with_capacity(jobs.max(1));
    for _ in 1..jobs.max(1) {
        engines.push(match first.fork() {
            Some(engine) => engine,
            None => prepare()?,
        });
    }
    engines.insert(0, first);
    Ok(engines)
}

/// Runs every batch of `batches` on `engines` (one worker thread each) and calls `consume` with
/// (batch index, inputs, outputs) in batch order. Inputs are handed back only when
/// `keep_inputs` (otherwise an empty map), so a caller that does not read them holds no copy.
/// The first error — from the source, an engine or `consume`, in batch order — stops the run.
pub fn run_in_order(
    engines: &mut [Box<dyn Engine>],
    batches: impl Iterator<Item = Result<TensorMap>>,
    keep_inputs: bool,
    consume: &mut dyn FnMut(usize, TensorMap, TensorMap) -> Result<()>,
) -> Result<()> {
    if engines.len() <= 1 {
        // One engine: no threads, no channels.
        let Some(engine) = engines.first_mut() else {
            return Err(Error::config("jobs", "needs at least one engine"));
        };
        for (ix, batch) in batches.enumerate() {
            let batch = batch?;
            let (inputs, outputs) = if keep_inputs {
                (batch.clone(), engine.run(batch)?)
            } else {
                (TensorMap::new(), engine.run(batch)?)
            };
            consume(ix, inputs, outputs)?;
        }
        return Ok(());
    }
    let jobs = engines.len();
    type Done = (usize, Result<(TensorMap, TensorMap)>);
    // Work is bounded by the window below, so the work channel never holds more than `jobs`.
    let (work_tx, work_rx) = sync_channel::<(usize, TensorMap)>(jobs);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = channel::<Done>();
    std::thread::scope(|scope| -> Result<()> {
        for engine in engines.iter_mut() {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            scope.spawn(move || loop {
                let job = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((ix, batch)) = job else { return };
                let result = if keep_inputs {
                    let inputs = batch.clone();
                    engine.run(batch).map(|out| (inputs, out))
                } else {
                    engine.run(batch).map(|out| (TensorMap::new(), out))
                };
                if done_tx.send((ix, result)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let mut batches = batches.enumerate();
        let mut in_flight = 0usize;
        let mut next = 0usize;
        let mut exhausted = false;
        // A source error stops production; it is reported when every batch before it is done.
        let mut source_error: Option<(usize, Error)> = None;
        let mut waiting: BTreeMap<usize, Result<(TensorMap, TensorMap)>> = BTreeMap::new();
        let outcome = (|| -> Result<()> {
            loop {
                // Keep `jobs` batches in flight or waiting, never more: memory stays bounded
                // even when an early batch is slow and later ones pile up in the window.
                while !exhausted && source_error.is_none() && in_flight + waiting.len() < jobs {
                    match batches.next() {
                        Some((ix, Ok(batch))) => {
                            work_tx
                                .send((ix, batch))
                                .map_err(|_| Error::backend("worker", "stopped early"))?;
                            in_flight += 1;
                        }
                        Some((ix, Err(e))) => source_error = Some((ix, e)),
                        None => exhausted = true,
                    }
                }
                // Results in batch order; an error is reported once everything before it is.
                let mut consumed = false;
                while let Some(result) = waiting.remove(&next) {
                    let (inputs, outputs) = result?;
                    consume(next, inputs, outputs)?;
                    next += 1;
                    consumed = true;
                }
                if consumed {
                    // Consuming freed window slots: fill them before blocking on the next
                    // result, or the workers take turns instead of running together.
                    continue;
                }
                if source_error.as_ref().is_some_and(|(ix, _)| *ix == next) {
                    if let Some((_, e)) = source_error.take() {
                        return Err(e);
                    }
                }
                if in_flight == 0 {
                    // Every batch sent so far is consumed: done once the source is, otherwise
                    // refill the (now empty) window.
                    if exhausted || source_error.is_some() {
                        return Ok(());
                    }
                    continue;
                }
                let (ix, result) =
                    done_rx.recv().map_err(|_| Error::backend("worker", "stopped early"))?;
                in_flight -= 1;
                waiting.insert(ix, result);
            }
        })();
        // Closing the work channel ends the workers; outstanding results are dropped.
        drop(work_tx);
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::TensorValue;
    use ndarray::ArrayD;

    /// Doubles its input after a delay that makes later batches finish first.
    struct Slow {
        names: Vec<String>,
    }

    impl Engine for Slow {
        fn input_names(&self) -> &[String] {
            &self.names
        }
        fn output_names(&self) -> &[String] {
            &self.names
        }
        fn run(&mut self, inputs: TensorMap) -> Result<TensorMap> {
            let x = inputs.f32("x")?.clone();
            let delay = (10.0 - x[[0]]).max(0.0) as u64;
            std::thread::sleep(std::time::Duration::from_millis(delay));
            Ok(TensorMap::single("x", x.mapv(|v| v * 2.0)))
        }
    }

    fn batches(n: usize) -> impl Iterator<Item = Result<TensorMap>> {
        (0..n).map(|i| Ok(TensorMap::single("x", ArrayD::from_elem(vec![1], i as f32))))
    }

    #[test]
    fn results_arrive_in_batch_order_for_any_job_count() {
        for jobs in [1, 2, 3, 7, 12, 20] {
            let mut engines: Vec<Box<dyn Engine>> =
                (0..jobs).map(|_| Box::new(Slow { names: vec!["x".into()] }) as _).collect();
            let mut seen = vec![];
            run_in_order(&mut engines, batches(12), true, &mut |ix, inputs, outputs| {
                let x = inputs.f32("x")?[[0]];
                assert_eq!(
                    outputs.get("x"),
                    Some(&TensorValue::F32(ArrayD::from_elem(vec![1], x * 2.0)))
                );
                seen.push(ix);
                Ok(())
            })
            .unwrap();
            assert_eq!(seen, (0..12).collect::<Vec<_>>(), "jobs {jobs}");
        }
    }

    #[test]
    fn the_first_error_in_batch_order_stops_the_run() {
        let mut engines: Vec<Box<dyn Engine>> =
            (0..3).map(|_| Box::new(Slow { names: vec!["x".into()] }) as _).collect();
        let source = (0..10).map(|i| {
            if i == 4 {
                Err(Error::data("batch 4", "is broken"))
            } else {
                Ok(TensorMap::single("x", ArrayD::from_elem(vec![1], i as f32)))
            }
        });
        let mut seen = vec![];
        let err = run_in_order(&mut engines, source, false, &mut |ix, _, _| {
            seen.push(ix);
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().contains("batch 4"), "{err}");
        assert!(seen.iter().all(|&ix| ix < 4), "{seen:?}");
    }

    /// (started, timed out) per batch, and the signal that one started.
    type HandOverState = (Mutex<(Vec<bool>, Vec<bool>)>, std::sync::Condvar);

    /// Returns batch k only once batch k + 1 has started (or after a second): with two
    /// workers that holds for every batch only when a consumed result's slot is refilled at
    /// once.
    struct HandOver {
        names: Vec<String>,
        batches: usize,
        state: std::sync::Arc<HandOverState>,
    }

    impl Engine for HandOver {
        fn input_names(&self) -> &[String] {
            &self.names
        }
        fn output_names(&self) -> &[String] {
            &self.names
        }
        fn run(&mut self, inputs: TensorMap) -> Result<TensorMap> {
            let k = inputs.f32("x")?[[0]] as usize;
            let (lock, changed) = &*self.state;
            let mut state = lock.lock().unwrap();
            state.0[k] = true;
            changed.notify_all();
            let last = k + 1 == self.batches;
            let (mut state, wait) = changed
                .wait_timeout_while(state, std::time::Duration::from_secs(1), |s| {
                    !last && !s.0[k + 1]
                })
                .unwrap();
            state.1[k] = wait.timed_out();
            Ok(inputs)
        }
    }

    #[test]
    fn two_engines_run_batches_together_not_in_turns() {
        // Consuming a result frees a window slot; it must be refilled at once. When the refill
        // waited for the next result, the two workers ran one after the other.
        let n = 8;
        let state = std::sync::Arc::new((
            Mutex::new((vec![false; n], vec![false; n])),
            std::sync::Condvar::new(),
        ));
        let mut engines: Vec<Box<dyn Engine>> = (0..2)
            .map(|_| {
                Box::new(HandOver { names: vec!["x".into()], batches: n, state: state.clone() })
                    as _
            })
            .collect();
        run_in_order(&mut engines, batches(n), false, &mut |_, _, _| Ok(())).unwrap();
        let alone: Vec<usize> = (0..n).filter(|&k| state.0.lock().unwrap().1[k]).collect();
        assert!(alone.is_empty(), "batches {alone:?} ended before the next one started");
    }
}
