"""A student's screen for the browser tests: JupyterLab with the nbgrader extension, served
from .venv/ on loopback, and headless Debian Chromium driven by Playwright.

Playwright cannot download its own browser here, so it drives the system's Chromium
(`make browser` installs Debian's package). The flags keep Chromium off the network it
would otherwise try to reach at start-up (updates, sync), which this machine refuses.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import stop

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "student-token"

# JupyterLab settings for the test: every cell rendered (not only those in view), no news pop-up.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def unavailable():
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}: `make browser` (or `make test-browser`) installs Debian's chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: run `make venv`"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root, home):
    """JupyterLab serving `root` on loopback; yields its base URL (token included as a query)."""
    settings = Path(home) / "lab-settings"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    # As a student's machine: the release's own folder, nothing of the grader on the path.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_CONFIG_DIR=str(Path(home) / "config"),
               JUPYTER_RUNTIME_DIR=str(Path(home) / "runtime"), HOME=str(home))
    log = open(Path(home) / "jupyterlab.log", "w")
    lab = subprocess.Popen([str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--allow-root",
                            "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={TOKEN}",
                            f"--ServerApp.root_dir={root}"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if lab.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: see {log.name}")
                time.sleep(0.2)
        yield url
    finally:
        stop(lab)
        log.close()


# The notebook in the tab in front (others stay in the page, hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


class Notebook:
    """One notebook open in JupyterLab, worked through as a student does."""

    def __init__(self, page, url, path):
        self.page = page
        page.goto(f"{url}/lab/tree/{path}?reset&token={TOKEN}")  # reset: no tabs from earlier tests
        page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=60_000)
        self.wait_idle()

    def menu(self, menu, item):
        self.page.click(f".lm-MenuBar-itemLabel:text-is('{menu}')")
        self.page.click(f".lm-Menu-itemLabel:text-is('{item}')")

    def wait_idle(self, timeout=120):
        """Until the kernel is connected and idle and no cell is running or queued ("[*]").

        The toolbar's indicator alone is not enough: it says "idle" while the notebook has no
        kernel yet ("No Kernel | Initializing" in the status bar), for over a second on a loaded
        machine, and a Run All clicked then clears the prompts without running a cell (a CI run
        failed so: "the run did not begin"). The status bar's kernel item says "| Idle" only once
        the kernel is connected."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            busy = self.page.evaluate("""(panel) => {
                const prompts = [...document.querySelectorAll(panel + ' .jp-InputPrompt')].map(e => e.textContent);
                const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
                const kernel = [...document.querySelectorAll('.jp-StatusBar-TextItem')]
                    .map(e => e.textContent.trim()).find(t => t.includes(' | '));
                return prompts.some(t => t.includes('*')) ||
                       !status || status.getAttribute('data-status') !== 'idle' ||
                       !kernel || !kernel.endsWith('| Idle');
            }""", PANEL)
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 1.0:
                return
            time.sleep(0.2)
        raise TimeoutError("the notebook kept running")

    def prompts(self):
        """The input prompts of the code cells ("[ ]:", "[*]:", "[3]:")."""
        return self.page.eval_on_selector_all(f"{PANEL} .jp-InputPrompt", "els => els.map(e => e.textContent)")

    def run_all(self):
        """Run All Cells, then wait until the run has begun and ended."""
        self._ran(lambda: self.menu("Run", "Run All Cells"))

    def restart_and_run_all(self):
        def restart():
            self.menu("Kernel", "Restart Kernel and Run All Cells…")
            self.page.click(".jp-Dialog-button.jp-mod-accept")
        self._ran(restart)

    def _ran(self, start, timeout=120):
        """Do `start`, then wait until the run has begun (a prompt changed: the new kernel counts from
        1 again, and a cell waiting shows "[*]") and ended. A fixed wait was not enough: on a loaded
        machine the kernel had not begun half a second after the click, and a notebook idle for a
        second before its run looked like one that had run (a CI run found no error output)."""
        before = self.prompts()
        start()
        deadline = time.monotonic() + timeout
        while self.prompts() == before:
            if time.monotonic() > deadline:
                raise TimeoutError("the run did not begin")
            time.sleep(0.05)
        self.wait_idle()

    def errors(self):
        """The text of every error output, in notebook order."""
        return self.page.eval_on_selector_all(
            f"{PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
            "els => els.map(e => e.innerText)")

    def outputs(self):
        return self.page.eval_on_selector_all(f"{PANEL} .jp-OutputArea-output", "els => els.map(e => e.innerText)")

    def images(self):
        """[(src, natural width)] of the figures in the text cells (0: not loaded)."""
        return self.page.eval_on_selector_all(
            f"{PANEL} .jp-RenderedMarkdown img", "els => els.map(e => [e.getAttribute('src'), e.complete ? e.naturalWidth : 0])")

    def replace_cell(self, marker, source):
        """Replace the source of the first code cell containing `marker`, typing in its editor."""
        editor = self.page.locator(f"{PANEL} .jp-CodeCell .cm-content", has_text=marker).first
        editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.insert_text(source)  # as pasted: no auto-indent or closing brackets added
        self.page.keyboard.press("Escape")

    def save(self):
        self.page.keyboard.press("Control+S")
        self.page.wait_for_selector(f"{PANEL}.jp-mod-dirty, .lm-TabBar-tab.jp-mod-current.jp-mod-dirty",
                                    state="detached", timeout=30_000)

    def validate(self):
        """Press nbgrader's Validate button; returns the text of its verdict dialog."""
        self.page.click(f"{PANEL} .jp-Toolbar :is(button, jp-button):has-text('Validate')")
        dialog = self.page.wait_for_selector(".jp-Dialog-content", timeout=180_000)
        self.page.wait_for_function(
            "() => !document.querySelector('.jp-Dialog-body')?.innerText.match(/Validating/i)", timeout=180_000)
        text = dialog.inner_text()
        self.page.click(".jp-Dialog-button.jp-mod-accept")
        return text

    def screenshot(self, path):
        self.page.screenshot(path=str(path), full_page=False)


def copy_release(release, folder):
    """A student's copy of the release, as downloaded."""
    shutil.copytree(release, folder)
    return folder
