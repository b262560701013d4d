"""Helpers shared by the real-client tests (tests/clients/test-*.sh).

Python 3 standard library only. Starts the bundled AMM server on loopback, talks to its control
port, and prints TAP (``ok N - name`` / ``not ok N - name`` / ``# SKIP reason``) so that
tests/run-tests.sh counts the results.
"""
import atexit
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SRC = os.environ.get("AMM_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("AMM_BUILD_DIR") or os.path.join(SRC, "build")
TLS = os.environ.get("AMM_TLS_DIR") or os.path.join(BUILD, "tls")
PLUGIN = os.path.join(os.environ.get("AMM_PLUGIN_DIR") or BUILD, "libamm.so")
SERVER = os.environ.get("AMM_SERVER") or os.path.join(BUILD, "amm-server")


def log(*args):
    """Diagnostics: TAP comments on stdout."""
    text = " ".join(str(a) for a in args)
    for line in text.splitlines() or [""]:
        print("# " + line, flush=True)


class Tap:
    """A TAP producer with a fixed plan. Unreported tests count as failed at exit."""

    def __init__(self, names):
        self.names = list(names)
        self.done = {}
        print("1..%d" % len(self.names), flush=True)
        atexit.register(self._finish)

    def _num(self, name):
        return self.names.index(name) + 1

    def ok(self, name, cond=True, diag=None):
        if name in self.done:
            return cond
        self.done[name] = bool(cond)
        if not cond and diag:
            log(diag)
        print("%s %d - %s" % ("ok" if cond else "not ok", self._num(name), name), flush=True)
        return cond

    def skip(self, name, reason):
        if name in self.done:
            return
        self.done[name] = True
        print("ok %d - %s # SKIP %s" % (self._num(name), name, reason), flush=True)

    def run(self, name, fn, *args):
        """Runs fn; an exception is a failure with its traceback as diagnostics."""
        try:
            r = fn(*args)
        except Exception:  # noqa: BLE001 - everything is a test failure here
            self.ok(name, False, traceback.format_exc())
            return None
        if r is None or r is True:
            self.ok(name, True)
        else:
            self.ok(name, False, str(r))
        return r

    def fail_rest(self, why):
        for n in self.names:
            if n not in self.done:
                self.ok(n, False, why)
                why = None

    def _finish(self):
        for n in self.names:
            if n not in self.done:
                print("not ok %d - %s # not run" % (self._num(n), n), flush=True)


def wait_for(pred, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        r = pred()
        if r:
            return r
        if time.monotonic() > end:
            return r
        time.sleep(interval)


def plugin_has(feature):
    """Whether the built plugin has a feature that concurrent work is adding: its source file
    (src/purple/amm-FEATURE.c) exists and the built libamm.so contains its amm_FEATURE_ code."""
    if not os.path.exists(os.path.join(SRC, "src", "purple", "amm-%s.c" % feature)):
        return False
    try:
        with open(PLUGIN, "rb") as f:
            return ("amm_%s_" % feature).encode() in f.read()
    except OSError:
        return False


def chats_available():
    """Group chats are tested once the plugin has them (src/purple/amm-chat.c, built)."""
    return plugin_has("chat")


class Workdir:
    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR"))
        atexit.register(self.cleanup)

    def cleanup(self):
        if os.environ.get("AMM_KEEP_TMP"):
            log("kept", self.path)
            return
        shutil.rmtree(self.path, ignore_errors=True)

    def join(self, *p):
        return os.path.join(self.path, *p)


class AmmServer:
    """build/amm-server on ephemeral loopback ports, HTTPS with the test CA by default."""

    def __init__(self, workdir, tls=True, extra=()):
        self.dir = workdir
        self.tls = tls
        port_file = os.path.join(workdir, "ports")
        args = [SERVER, "--port", "0", "--control-port", "0", "--port-file", port_file,
                "--seed", os.path.join(SRC, "tests", "amm-server", "seed.json"),
                "--state", os.path.join(workdir, "state.json")]
        if tls:
            args += ["--tls", "--cert", os.path.join(TLS, "server.pem"),
                     "--key", os.path.join(TLS, "server-key.pem")]
        args += list(extra)
        self.log_path = os.path.join(workdir, "server.log")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "w"))
        atexit.register(self.stop)
        ok = wait_for(lambda: os.path.exists(port_file) and os.path.getsize(port_file) > 0, 15)
        if not ok:
            raise RuntimeError("amm-server did not start:\n" + open(self.log_path).read())
        self.port, self.control = (int(x) for x in open(port_file).read().split())
        self.ca_file = os.path.join(TLS, "ca.pem")
        self._conn = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def _request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.control, timeout=10)
            try:
                headers = {"Content-Type": "application/json"} if data is not None else {}
                self._conn.request(method, path, body=data, headers=headers)
                r = self._conn.getresponse()
                payload = r.read()
                if r.status != 200:
                    raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, payload[:300]))
                return json.loads(payload or b"{}")
            except (http.client.HTTPException, ConnectionError, OSError):
                self._conn = None
                if attempt:
                    raise
        return None

    def send(self, sender, to, body, thread=None):
        doc = {"from": sender, "to": list(to), "body": body}
        if thread:
            doc["threadId"] = thread
        return self._request("POST", "/control/send", doc)

    def messages(self, user):
        return self._request("GET", "/control/messages?user=" + user)["messages"]

    def conversations(self, user):
        return self._request("GET", "/control/conversations?user=" + user)["conversations"]

    def stats(self):
        return self._request("GET", "/control/stats")

    def send_attachment(self, sender, password, to, text, filename, mime, data):
        """Sends a message with one attachment as `sender` through the REST API (a
        multipart/related POST to the outbox, as the AMM SDK sends it)."""
        import base64
        import ssl
        doc = json.dumps({"body": text, "to": [{"address": a} for a in to]}).encode()
        body = (b"--B\r\nContent-Type:application/vnd.avaya.aem.message.v2+json;\r\n\r\n" + doc
                + b"\r\n--B\r\nContent-Type:" + mime.encode()
                + b"\r\nContent-Transfer-Encoding:binary\r\nContent-Disposition:attachment; filename=\""
                + filename.encode() + b"\"\r\n\r\n" + data + b"\r\n--B--\r\n")
        if self.tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=10, context=ssl.create_default_context(cafile=self.ca_file))
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        auth = base64.b64encode(("%s:%s" % (sender, password)).encode()).decode()
        conn.request("POST", "/aem/outbox", body=body, headers={
            "Authorization": "Basic " + auth, "Accept": "*/*",
            "Content-Type": 'multipart/related;boundary="B"'})
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        if r.status != 201:
            raise RuntimeError("outbox -> %d %s" % (r.status, payload[:300]))
        return json.loads(payload)

    def typing(self, user, thread, state="composing"):
        """Sends a chatState as `user` (control port); returns how many channels got it."""
        return self._request("POST", "/control/typing",
                             {"user": user, "threadId": thread, "state": state}).get("relayed")

    def threads_with(self, user, other):
        """The ids of `user`'s active 1:1 conversations with `other`, the latest first
        (/control/send without threadId starts a new one each time)."""
        found = []
        for c in self.conversations(user):
            if c.get("isMultiparty") or not (c.get("flags") or {}).get("active", True):
                continue
            addrs = set()
            for m in c.get("messages") or []:
                for e in [m.get("from") or {}] + list(m.get("to") or []):
                    addrs.add((e.get("address") or "").lower())
            if other.lower() in addrs:
                found.append((c.get("lastUpdated") or "", c["id"]))
        return [i for _, i in sorted(found, reverse=True)]

    def has_message(self, user, sender, text):
        """True when `user` sees a MESSAGE from `sender` whose body is exactly `text`."""
        for m in self.messages(user):
            if ((m.get("event") or {}).get("type") == "MESSAGE"
                    and (m.get("from") or {}).get("address") == sender
                    and m.get("body") == text):
                return True
        return False


class ChatStateListener:
    """Another user's notification channel (SSE, as the AMM SDK opens it), subscribed to the
    chatState of the given conversations: what the plugin reports as typing, as its peer sees it."""

    def __init__(self, server, user, password, threads):
        import base64
        import queue
        import ssl
        import threading
        import urllib.parse
        self.states = queue.Queue()
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.server = server
        self._ctx = ssl.create_default_context(cafile=server.ca_file) if server.tls else None
        self.conn = self._connect()
        self.conn.request("GET", "/aem/notifications/sse",
                          headers={"Authorization": self.auth, "Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise RuntimeError("SSE as %s -> %d" % (user, self.resp.status))
        self._frames = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()
        disc = self._frame(10).get("discovery") or {}
        command = urllib.parse.urlsplit(disc["commandURL"]).path
        sub = {"subscribe": {"requestId": "t1", "resources": [
            {"application": "AMM", "service": "chatState", "resource": "conversations/" + t}
            for t in threads]}}
        c = self._connect()
        c.request("POST", command, body=json.dumps(sub).encode(),
                  headers={"Authorization": self.auth, "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError("subscribe -> %d" % r.status)

    def _connect(self):
        if self._ctx:
            return http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=30, context=self._ctx)
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)

    def _reader(self):
        data = []
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    try:
                        frame = json.loads("\n".join(data))
                    except ValueError:
                        frame = {}
                    data = []
                    self._frames.put(frame)
                    n = frame.get("notification") if isinstance(frame, dict) else None
                    if isinstance(n, dict) and n.get("service") == "chatState":
                        self.states.put((n.get("contents") or {}).get("state"))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass    # closed by close(), or the server went away

    def _frame(self, timeout):
        return self._frames.get(timeout=timeout)

    def next_state(self, timeout=10.0):
        """The next chatState state received (None after `timeout` seconds)."""
        import queue
        try:
            return self.states.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass


def purple_config_dir(path, ui, server):
    """A Finch/Pidgin config dir written by tests/clients/purple-config.sh (as `make demo` does):
    the plugin in DIR/plugins, accounts.xml with auto-login, bob in blist.xml."""
    subprocess.check_call(["sh", os.path.join(SRC, "tests", "clients", "purple-config.sh"),
                           path, ui, str(server.port), server.ca_file, PLUGIN])
    return path


def kill_group(proc, sig=signal.SIGTERM):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def client_env(home, **extra):
    """The environment for a real client (Finch, Pidgin, Bitlbee): HOME in the test dir, and
    without the test suite's G_DEBUG=fatal-criticals: the clients' own GLib criticals (Finch logs
    "Source ID N was not found" from gntblist at sign-on) are not the plugin's to fail on.
    GIO_USE_PROXY_RESOLVER is dropped too, so the clients run as users run them."""
    env = dict(os.environ, HOME=home)
    env.pop("G_DEBUG", None)
    env.pop("GIO_USE_PROXY_RESOLVER", None)
    env.update(extra)
    return env


def need(cmds):
    """The commands a test needs; returns the missing ones."""
    return [c for c in cmds if not (shutil.which(c) or os.path.exists(c))]


if __name__ == "__main__":
    sys.exit("a library for tests/clients/*.py")
