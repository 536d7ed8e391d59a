"""The quickstart notebook (examples/quickstart.ipynb) runs top to bottom, offline, in a fresh
kernel, and the figures it prints are those of a model that learnt something."""

import json
import pathlib
import re
import sys

import nbformat
from nbclient import NotebookClient

from helpers import as_a_user_runs

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def printed(notebook) -> str:
    return "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def number_after(label: str, text: str) -> float:
    return float(re.search(re.escape(label) + r"\s*:?\s*([-0-9.]+)", text).group(1))


def test_the_quickstart_notebook_runs_offline_and_learns(tmp_path, monkeypatch):
    # A kernel of this very interpreter (where jaxae is installed, so the notebook's install cell
    # does nothing), not whatever 'python3' kernel the user's Jupyter set-up names.
    spec = tmp_path / "jupyter" / "kernels" / "jaxae-tests"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                           "{connection_file}"],
                                                  "display_name": "jaxae tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("XLA_FLAGS", as_a_user_runs()["XLA_FLAGS"])
    # The notebook trains in a tempfile.mkdtemp folder, kept for its user; here it goes under tmp_path.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # A cell that raises fails the test (CellExecutionError), naming the cell.
    NotebookClient(notebook, timeout=600, kernel_name="jaxae-tests",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = printed(notebook)
    assert number_after("test negative ELBO (nats):", text) < 160  # An untrained VAE: about 545.
    assert number_after("NMI", text) > 0.3
    assert number_after("AUROC of the turned digits:", text) > 0.8
    images = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    assert len(images) == 3
