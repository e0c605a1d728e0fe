//! GPU memory, one stream and event timing through cudarc (the CUDA driver API, loaded at run
//! time, so this builds and links without CUDA).
//!
//! [`Device`] owns a CUDA context and one stream; everything an engine does (copies in,
//! `enqueueV3`, copies out) is queued on that stream. [`IoBuffer`] pairs a device buffer with
//! pinned host memory for one I/O tensor (pinned, so copies are true DMA and asynchronous).
//! [`Device::time`] measures queued work with CUDA events: warm-up runs, then the median, min,
//! max and mean over N runs.
//!
//! [`cuda_available`] says why no GPU can be used (no driver library, no device, a driver too
//! old for the calls calibr8 makes) without panicking, so tests can skip cleanly.
//!
//! **Driver floor: CUDA 12.0** (R525 or newer). cudarc is built with its `cuda-12000` bindings,
//! the oldest that cover every call here; with dynamic loading cudarc resolves each driver
//! symbol at its first use and *panics* when the driver lacks it (the `cuda-13000` bindings, for
//! one, time events with `cuEventElapsedTime_v2`, new in 12.8). So [`cuda_available`] first
//! checks the driver exports every symbol of [`DRIVER_SYMBOLS`], and every cudarc call goes
//! through [`guarded`], which turns a "Missing symbol" panic into an error.

use crate::internal::*;
use cudarc::driver::{CudaContext, CudaSlice, CudaStream, DevicePtrMut, PinnedHostSlice};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

/// The CUDA version calibr8's cudarc bindings are generated for: the driver floor.
pub const CUDA_FLOOR: &str = "12.0";

/// Every CUDA driver API symbol the code in this module makes cudarc resolve (with its
/// `cuda-12000` bindings), checked up front by [`cuda_available`]. All exist in drivers for CUDA
/// 12.0 and later (CUDA 13 drivers keep the older entry points for binary compatibility).
pub const DRIVER_SYMBOLS: &[&str] = &[
    "cuInit",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDeviceGetName",
    "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRetain",
    "cuDevicePrimaryCtxRelease_v2",
    "cuCtxSetCurrent",
    "cuCtxGetCurrent",
    "cuCtxSynchronize",
    "cuStreamCreate",
    "cuStreamDestroy_v2",
    "cuStreamSynchronize",
    "cuStreamWaitEvent",
    "cuEventCreate",
    "cuEventDestroy_v2",
    "cuEventRecord",
    "cuEventSynchronize",
    "cuEventElapsedTime",
    "cuMemAllocAsync",
    "cuMemFreeAsync",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemsetD8Async",
    "cuMemHostAlloc",
    "cuMemFreeHost",
    "cuMemcpyHtoDAsync_v2",
    "cuMemcpyDtoHAsync_v2",
    "cuMemcpyDtoDAsync_v2",
];

fn cuda(what: &str) -> impl FnOnce(cudarc::driver::DriverError) -> Error + '_ {
    move |e| {
        // DriverError's Display asks the driver for the text (cuGetErrorString), and cudarc
        // panics when there is no driver library: name the code alone then.
        // SAFETY: only tries to dlopen libcuda.
        let text = if unsafe { cudarc::driver::sys::is_culib_present() } {
            e.to_string()
        } else {
            format!("{:?}", e.0)
        };
        Error::backend(crate::BACKEND, format!("CUDA {what} failed: {text}"))
    }
}

/// The remedy for a driver older than [`CUDA_FLOOR`].
fn driver_remedy() -> String {
    format!(
        "calibr8 needs an NVIDIA driver for CUDA {CUDA_FLOOR} or newer (R525+); update the \
         driver (nvidia-smi shows the CUDA version it supports)"
    )
}

/// Runs a cudarc call, turning the panic cudarc raises for a symbol the driver lacks
/// (`Missing symbol cuX: …`) into an error naming it and the driver floor. Any other panic is
/// not ours to hide and continues.
pub fn guarded<T>(
    what: &str,
    call: impl FnOnce() -> std::result::Result<T, cudarc::driver::DriverError>,
) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(cuda(what)),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            match message.strip_prefix("Missing symbol ") {
                Some(rest) => {
                    let symbol = rest.split(':').next().unwrap_or(rest);
                    Err(Error::backend(
                        crate::BACKEND,
                        format!(
                            "CUDA {what} failed: the NVIDIA driver does not export {symbol} \
                             ({message}). {}",
                            driver_remedy()
                        ),
                    ))
                }
                None => resume_unwind(payload),
            }
        }
    }
}

/// The symbols of [`DRIVER_SYMBOLS`] the driver library at `path` does not export (empty when
/// it has them all); an error when it does not open.
pub fn missing_driver_symbols(path: &Path) -> std::result::Result<Vec<&'static str>, String> {
    // SAFETY: opening the CUDA driver library runs its initializers, as any CUDA use would.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(DRIVER_SYMBOLS
        .iter()
        .copied()
        // SAFETY: only looks the symbol up; it is never called through this pointer.
        .filter(|name| unsafe { lib.get::<*const ()>(name.as_bytes()) }.is_err())
        .collect())
}

/// Checks the first driver library cudarc would load exports [`DRIVER_SYMBOLS`].
fn check_driver_symbols() -> std::result::Result<(), String> {
    for candidate in cudarc::get_lib_name_candidates("cuda") {
        let Ok(missing) = missing_driver_symbols(Path::new(&candidate)) else {
            continue;
        };
        if missing.is_empty() {
            return Ok(());
        }
        return Err(format!(
            "the CUDA driver library {candidate} lacks {}: the driver is older than CUDA \
             {CUDA_FLOOR}. {}",
            missing.join(", "),
            driver_remedy()
        ));
    }
    Ok(())
}

/// Ok when the CUDA driver library loads, exports every symbol calibr8 uses and reports at
/// least one device; else why not, ending with the remedy.
pub fn cuda_available() -> std::result::Result<(), String> {
    // SAFETY: only tries to dlopen libcuda; no CUDA call is made before it succeeds.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no CUDA driver (libcuda.so.1 not found). Install the NVIDIA driver, or run \
                    on a machine with an NVIDIA GPU"
            .into());
    }
    check_driver_symbols()?;
    guarded("cuInit", cudarc::driver::result::init)
        .map_err(|e| format!("{e}. Check the NVIDIA driver"))?;
    match guarded("cuDeviceGetCount", cudarc::driver::result::device::get_count) {
        Ok(0) => Err("the CUDA driver reports no device. Check nvidia-smi".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{e}. Check the NVIDIA driver")),
    }
}

/// A GPU and the one stream calibr8 queues work on.
#[derive(Debug)]
pub struct Device {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
}

impl Device {
    /// Opens GPU `ordinal` (its primary context) and creates a stream.
    pub fn new(ordinal: usize) -> Result<Device> {
        cuda_available().map_err(|why| Error::backend(crate::BACKEND, why))?;
        let ctx = guarded("context creation", || CudaContext::new(ordinal))?;
        let stream = guarded("stream creation", || ctx.new_stream())?;
        Ok(Device { ctx, stream })
    }

    /// Makes this GPU's context current to the calling thread (TensorRT uses the current one).
    pub fn bind(&self) -> Result<()> {
        guarded("binding the context to the thread", || self.ctx.bind_to_thread())
    }

    /// The device's name (`NVIDIA H100 80GB HBM3`).
    pub fn name(&self) -> Result<String> {
        guarded("cuDeviceGetName", || self.ctx.name())
    }

    /// The stream, for `enqueueV3` (as a raw `CUstream`) and copies.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The raw `CUstream`, as TensorRT's `enqueueV3` takes it.
    pub fn raw_stream(&self) -> *mut std::ffi::c_void {
        self.stream.cu_stream().cast()
    }

    /// A zeroed device buffer of `len` f32.
    pub fn alloc(&self, len: usize) -> Result<CudaSlice<f32>> {
        guarded("device allocation", || self.stream.alloc_zeros::<f32>(len))
    }

    /// Pinned (page-locked) host memory of `len` f32, zeroed. Plain pinned memory, not
    /// write-combined: outputs are read back on the host.
    pub fn alloc_pinned(&self, len: usize) -> Result<PinnedHostSlice<f32>> {
        // SAFETY: the memory is zeroed below before anyone reads it.
        let mut host = guarded("pinned allocation", || unsafe {
            self.ctx.alloc_pinned_with_flags::<f32>(len, 0)
        })?;
        host.as_mut_slice().map_err(cuda("pinned access"))?.fill(0.0);
        Ok(host)
    }

    /// Queues a host → device copy.
    pub fn upload(&self, host: &PinnedHostSlice<f32>, device: &mut CudaSlice<f32>) -> Result<()> {
        guarded("host-to-device copy", || self.stream.memcpy_htod(host, device))
    }

    /// Queues a device → host copy.
    pub fn download(&self, device: &CudaSlice<f32>, host: &mut PinnedHostSlice<f32>) -> Result<()> {
        guarded("device-to-host copy", || self.stream.memcpy_dtoh(device, host))
    }

    /// Waits for everything queued on the stream.
    pub fn synchronize(&self) -> Result<()> {
        guarded("stream synchronize", || self.stream.synchronize())
    }

    /// The raw device address of `buffer`, for `setTensorAddress`. The caller queues work using
    /// it on [`Device::stream`] only, so no cross-stream synchronization is needed.
    pub fn device_address(&self, buffer: &mut CudaSlice<f32>) -> *mut std::ffi::c_void {
        let (ptr, _sync) = buffer.device_ptr_mut(&self.stream);
        ptr as usize as *mut std::ffi::c_void
    }

    /// Times `work` (which queues on [`Device::stream`]) with CUDA events: `warmup` untimed runs,
    /// then `runs` timed ones, each between two events recorded on the stream.
    pub fn time(
        &self,
        warmup: usize,
        runs: usize,
        mut work: impl FnMut(&Device) -> Result<()>,
    ) -> Result<Timing> {
        if runs == 0 {
            return Err(Error::config("runs", "timing needs at least one run"));
        }
        for _ in 0..warmup {
            work(self)?;
        }
        self.synchronize()?;
        let flags = Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT);
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = guarded("event creation", || self.ctx.new_event(flags))?;
            let end = guarded("event creation", || self.ctx.new_event(flags))?;
            guarded("event record", || start.record(&self.stream))?;
            work(self)?;
            guarded("event record", || end.record(&self.stream))?;
            samples.push(guarded("event elapsed time", || start.elapsed_ms(&end))? as f64);
        }
        Ok(Timing::from_samples(samples))
    }
}

/// Event-timed durations of N runs, in milliseconds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Timing {
    /// Number of timed runs.
    pub runs: usize,
    /// Median.
    pub median_ms: f64,
    /// Fastest run.
    pub min_ms: f64,
    /// Slowest run.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Timing {
    /// Summarizes samples (the median of an even count is the mean of the middle two).
    pub fn from_samples(mut samples: Vec<f64>) -> Timing {
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2.0
        };
        Timing {
            runs: n,
            median_ms: median,
            min_ms: samples.first().copied().unwrap_or(f64::NAN),
            max_ms: samples.last().copied().unwrap_or(f64::NAN),
            mean_ms: samples.iter().sum::<f64>() / n.max(1) as f64,
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median {:.4} ms, min {:.4} ms, max {:.4} ms, mean {:.4} ms over {} runs",
            self.median_ms, self.min_ms, self.max_ms, self.mean_ms, self.runs
        )
    }
}

/// Device memory and pinned host memory for one I/O tensor.
#[derive(Debug)]
pub struct IoBuffer {
    /// The tensor name.
    pub name: String,
    /// Elements (f32) the buffers hold.
    pub len: usize,
    /// On the GPU.
    pub device: CudaSlice<f32>,
    /// Page-locked staging memory on the host.
    pub host: PinnedHostSlice<f32>,
}

impl IoBuffer {
    /// Allocates both sides for `len` f32.
    pub fn new(device: &Device, name: impl Into<String>, len: usize) -> Result<IoBuffer> {
        Ok(IoBuffer {
            name: name.into(),
            len,
            device: device.alloc(len.max(1))?,
            host: device.alloc_pinned(len.max(1))?,
        })
    }

    /// Copies `data` into the pinned host buffer (no GPU work).
    pub fn stage(&mut self, data: &[f32]) -> Result<()> {
        if data.len() > self.len {
            return Err(Error::backend(
                crate::BACKEND,
                format!(
                    "tensor '{}': {} values do not fit its {}-value buffer",
                    self.name,
                    data.len(),
                    self.len
                ),
            ));
        }
        self.host.as_mut_slice().map_err(cuda("pinned access"))?[..data.len()]
            .copy_from_slice(data);
        Ok(())
    }

    /// The pinned host values (waits for queued copies into them).
    pub fn host_values(&self) -> Result<&[f32]> {
        Ok(&self.host.as_slice().map_err(cuda("pinned access"))?[..self.len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_statistics() {
        let t = Timing::from_samples(vec![3.0, 1.0, 2.0, 10.0]);
        assert_eq!((t.runs, t.median_ms, t.min_ms, t.max_ms, t.mean_ms), (4, 2.5, 1.0, 10.0, 4.0));
        let t = Timing::from_samples(vec![5.0, 1.0, 2.0]);
        assert_eq!(t.median_ms, 2.0);
    }
}
