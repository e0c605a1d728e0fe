#!/usr/bin/env python3
"""Runs the README's NNI 3.0 snippet verbatim (the ```python block that starts `import json,
torch`) on the model of check_nni3_quantizer.py, with the real torch, and checks that NNI holds
calibr8's scales afterwards. Run from the repository root:

    python3 tests/nni/readme_nni3_snippet.py CALIBR8_BIN NNI_DIR [SITE_DIR]

NNI_DIR holds NNI 3.0's unzipped nni/ package; SITE_DIR its missing pure-Python dependencies.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, "tests/nni")
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import check_nni3_quantizer as c  # noqa: E402

calibr8, nni_dir = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    sys.path.append(sys.argv[3])
sys.path.insert(0, nni_dir)
work = tempfile.mkdtemp()
weights = {i.name: numpy_helper.to_array(i) for i in onnx.load("tests/nni/torch_named.onnx").graph.initializer}
model = c.build_model(torch, weights)
x = torch.from_numpy(np.load("tests/nni/torch_named_calib.npy"))
torch.onnx.export(model, x[:1], os.path.join(work, "export.onnx"), dynamo=False, input_names=["actual_input_1"],
                  output_names=["logits"], opset_version=13, dynamic_axes={"actual_input_1": {0: "batch"}})
# The snippet reads out/nni3_calibration_config.json: run it where calibr8 wrote out/.
subprocess.run([calibr8, "quantize", os.path.join(work, "export.onnx"), "--calib",
                "tests/nni/torch_named_calib.npy", "--out", os.path.join(work, "out"), "--quiet"],
               check=True, stdout=subprocess.DEVNULL)
with torch.no_grad():
    ref = model(x).numpy()
snippet = re.search(r"```python\n(import json, torch\n.*?)```", open("README.md").read(), re.S).group(1)
os.chdir(work)
exec(snippet)
back = quantizer.get_calibration_config()
cfg = json.load(open(os.path.join(work, "out", "nni3_calibration_config.json")))
n = 0
for m, ts in cfg.items():
    for t, e in ts.items():
        assert np.array_equal(np.asarray(back[m][t]["scale"], np.float32).reshape(-1),
                              np.asarray(e["scale"], np.float32).reshape(-1)), (m, t)
        n += 1
with torch.no_grad():
    out = model(x).numpy()
print("README snippet: %d targets set, SQNR vs float %.1f dB" % (n, c.sqnr(ref, out)))
