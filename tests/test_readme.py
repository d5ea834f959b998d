"""The README's usage example runs as written (against a stand-in for the user's loss)."""
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_usage_example_runs():
    text = README.read_text()
    block = text[text.index("## Using the regularizer"):]
    code = block[block.index("```python") + len("```python"):]
    code = code[: code.index("```")]
    namespace = {"mse": 0.0}  # the user's data term in the example
    exec(compile(code, "README.md", "exec"), namespace)
    assert float(namespace["loss"].detach()) > 0
    assert namespace["stderr"] >= 0
