"""Stand-in for pycuda: NNI's Calibrator and trt_pycuda import it; no GPU is touched."""
