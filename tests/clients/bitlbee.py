"""Bitlbee (bitlbee-libpurple) with the AMM plugin, driven by a scripted IRC client.

    bitlbee.py inetd|forking [--latency N]

inetd:   a listening socket on loopback; each accepted connection gets its own `bitlbee -I`
         with the socket as stdin/stdout (what inetd does).
forking: `bitlbee -F -n` (Debian's default mode); also measures delivery latency (bob sends
         through the control port -> PRIVMSG seen by the IRC client), p99 must be <= 50 ms.

Bitlbee loads the plugin from <PluginDir>/purple (PluginDir set in a -c config), a temp dir:
nothing is installed into the system.
"""
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib as cl  # noqa: E402

BITLBEE = os.environ.get("BITLBEE", "/usr/sbin/bitlbee")
P99_LIMIT_MS = float(os.environ.get("AMM_BITLBEE_P99_MS", "50"))


class Irc:
    """A line-based IRC client; a reader thread time-stamps every line as it arrives."""

    def __init__(self, sock, nick="alice"):
        self.sock = sock
        self.nick = nick
        self.lines = queue.Queue()
        self.seen = []
        self.transcript = []
        self.alive = True
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        buf = b""
        while self.alive:
            try:
                data = self.sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            now = time.monotonic()
            buf += data
            while b"\r\n" in buf or b"\n" in buf:
                i = buf.find(b"\n")
                line = buf[:i].rstrip(b"\r").decode("utf-8", "replace")
                buf = buf[i + 1:]
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                    continue
                self.transcript.append(line)
                self.lines.put((now, line))
        self.alive = False
        self.lines.put((time.monotonic(), None))

    def send(self, line):
        self.transcript.append(">> " + line)
        self.sock.sendall((line + "\r\n").encode())

    def expect(self, pattern, timeout=10.0):
        """The first line (new or already seen) matching the regex; returns (time, match)."""
        rx = re.compile(pattern)
        for i, (t, line) in enumerate(self.seen):
            m = rx.search(line)
            if m:
                del self.seen[i]
                return t, m
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line matching %r within %.0f s" % (pattern, timeout))
            try:
                t, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise ConnectionError("Bitlbee closed the connection (waiting for %r)" % pattern)
            m = rx.search(line)
            if m:
                return t, m
            self.seen.append((t, line))
            if len(self.seen) > 500:
                del self.seen[0]

    def root(self, command, reply=None, timeout=10.0):
        """A command in &bitlbee; waits for root's reply matching `reply`."""
        self.send("PRIVMSG &bitlbee :" + command)
        if reply:
            return self.expect(r"^:root!\S+ PRIVMSG &bitlbee :.*" + reply, timeout)
        return None

    def close(self):
        self.alive = False
        try:
            self.send("QUIT :bye")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def tail(self, n=25):
        return "\n".join(self.transcript[-n:])


class Bitlbee:
    def __init__(self, mode, work):
        self.mode = mode
        self.work = work
        self.children = []
        plugin_dir = work.join("bitlbee-plugins")
        os.makedirs(os.path.join(plugin_dir, "purple"), exist_ok=True)
        os.symlink(cl.PLUGIN, os.path.join(plugin_dir, "purple", "libamm.so"))
        self.config_dir = work.join("bitlbee-users")
        os.makedirs(self.config_dir, exist_ok=True)
        self.conf = work.join("bitlbee.conf")
        with open(self.conf, "w") as f:
            f.write("[settings]\nRunMode = %s\nPluginDir = %s\nConfigDir = %s\nAuthMode = Open\n"
                    "[defaults]\n" % ("ForkDaemon" if mode == "forking" else "Inetd",
                                      plugin_dir, self.config_dir))
        self.env = cl.client_env(work.path)
        self.log = open(work.join("bitlbee-%s.log" % mode), "w")
        self.listener = None
        self.daemon = None
        if mode == "inetd":
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(4)
            self.port = self.listener.getsockname()[1]
            threading.Thread(target=self._inetd, daemon=True).start()
        else:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
            self.daemon = subprocess.Popen(
                [BITLBEE, "-F", "-n", "-v", "-i", "127.0.0.1", "-p", str(self.port),
                 "-c", self.conf, "-d", self.config_dir, "-P", work.join("bitlbee.pid")],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                env=self.env, start_new_session=True)
            ok = cl.wait_for(self._can_connect, 10)
            if not ok:
                raise RuntimeError("bitlbee -F did not listen on %d" % self.port)

    def _can_connect(self):
        if self.daemon.poll() is not None:
            raise RuntimeError("bitlbee -F exited with %s" % self.daemon.returncode)
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def _inetd(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            p = subprocess.Popen([BITLBEE, "-I", "-c", self.conf, "-d", self.config_dir],
                                 stdin=conn, stdout=conn, stderr=self.log, env=self.env,
                                 start_new_session=True)
            conn.close()
            self.children.append(p)

    def connect(self, nick="alice"):
        sock = socket.create_connection(("127.0.0.1", self.port), 5)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        irc = Irc(sock, nick)
        irc.send("NICK " + nick)
        irc.send("USER %s 0 * :Alice Liddell" % nick)
        irc.expect(r"^:\S+ 001 ", 10)
        return irc

    def stop(self):
        if self.listener:
            self.listener.close()
        for p in self.children:
            cl.kill_group(p)
        if self.daemon:
            # the forked children are in the daemon's session
            cl.kill_group(self.daemon)
        # children of -F that outlived the daemon: they were started in its process group
        self.log.flush()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "inetd"
    latency_n = 0
    if "--latency" in sys.argv:
        latency_n = int(sys.argv[sys.argv.index("--latency") + 1])
    names = ["%s: bitlbee starts with the plugin from PluginDir/purple" % mode,
             "%s: account add amm / set server, port, ca-file / account on: logged in" % mode,
             "%s: an IM from bob arrives as an IRC private message" % mode,
             "%s: a private message to bob reaches bob (exact text, HTML-like characters)" % mode,
             "%s: several IMs arrive in order" % mode,
             "%s: bob's typing arrives as CTCP TYPING 1/2/0 (composing, paused, stopped)" % mode,
             "%s: CTCP TYPING 1/0 to bob goes out as chatState composing/paused" % mode,
             "%s: group conversation as an IRC channel: join, message both ways, part" % mode,
             "%s: an incoming attachment is offered as a DCC SEND (name, size)" % mode,
             "%s: the attachment's bytes arrive through the DCC connection" % mode,
             "%s: account off logs out cleanly" % mode]
    if latency_n:
        names.insert(7, "%s: delivery latency p99 <= %.0f ms over %d messages" % (mode, P99_LIMIT_MS, latency_n))
    tap = cl.Tap(names)
    n = iter(names)

    missing = cl.need([BITLBEE, cl.PLUGIN, cl.SERVER])
    if missing:
        tap.fail_rest("missing: %s (tests/ensure-deps.sh test installs bitlbee-libpurple)" % missing)
        return 1

    work = cl.Workdir("amm-bitlbee-")
    server = cl.AmmServer(work.path)
    bee = None
    irc = None
    try:
        bee = Bitlbee(mode, work)
        irc = bee.connect()
        irc.expect(r"JOIN :?&bitlbee", 10)
        tap.ok(next(n))

        irc.root("account add amm alice@example.com alice-pw", r"[Aa]ccount successfully added")
        irc.root("account amm set server 127.0.0.1", r"server = `127\.0\.0\.1'")
        irc.root("account amm set port %d" % server.port, r"port = `%d'" % server.port)
        irc.root("account amm set ca-file %s" % server.ca_file, r"ca-file = ")
        irc.root("set handle_unknown add_private", r"handle_unknown = ")
        irc.root("account amm on")
        irc.expect(r"^:root!\S+ PRIVMSG &bitlbee :amm - Logging in: Logged in", 15)
        tap.ok(next(n))

        server.send("bob@example.com", ["alice@example.com"], "Hello Alice, from bob")
        _, m = irc.expect(r"^:(\S+?)!\S+ PRIVMSG alice :Hello Alice, from bob$", 10)
        bob = m.group(1)
        tap.ok(next(n), bob.lower().startswith("bob"), "bob's nick: " + bob)

        text = "Hi bob & <friends> &amp; \"all\""
        irc.send("PRIVMSG %s :%s" % (bob, text))
        got = cl.wait_for(lambda: server.has_message("bob@example.com", "alice@example.com", text), 10)
        tap.ok(next(n), got, "bob's messages: %s" % [m.get("body") for m in server.messages("bob@example.com")])

        for i in range(5):
            server.send("bob@example.com", ["alice@example.com"], "order %d" % i)
        order = []
        for i in range(5):
            _, m = irc.expect(r"^:%s!\S+ PRIVMSG alice :(order \d)$" % re.escape(bob), 10)
            order.append(m.group(1))
        tap.ok(next(n), order == ["order %d" % i for i in range(5)], "order: %s" % order)

        # typing (README "Typing"): Bitlbee passes it on only with typing_notice set
        irc.root("set typing_notice true", r"typing_notice = `true'")
        threads = server.threads_with("bob@example.com", "alice@example.com")
        tap.ok(next(n), *typing_in(irc, server, bob, threads))
        tap.ok(next(n), *typing_out(irc, server, bob, threads))

        if latency_n:
            name = next(n)
            lat = []
            for i in range(latency_n):
                body = "latency probe %d" % i
                t0 = time.monotonic()
                server.send("bob@example.com", ["alice@example.com"], body)
                t1, _ = irc.expect(r"PRIVMSG alice :%s$" % body, 10)
                lat.append((t1 - t0) * 1000.0)
            s = sorted(lat)
            p50 = s[len(s) // 2]
            p99 = s[min(len(s) - 1, int(round(0.99 * len(s))) - 1)]
            cl.log("latency over %d messages (ms): min %.1f p50 %.1f p99 %.1f max %.1f"
                   % (len(s), s[0], p50, p99, s[-1]))
            out = os.environ.get("AMM_LATENCY_OUT")
            if out:
                with open(out, "w") as f:
                    f.write("%s %d %.1f %.1f %.1f %.1f\n" % (mode, len(s), s[0], p50, p99, s[-1]))
            # the other direction: a PRIVMSG typed to bob -> stored by the server
            # (each send is a REST POST: connection, TLS handshake in a worker thread)
            out_lat = []
            for i in range(20):
                body = "outgoing probe %d" % i
                t0 = time.monotonic()
                irc.send("PRIVMSG %s :%s" % (bob, body))
                cl.wait_for(lambda: server.has_message("bob@example.com", "alice@example.com", body),
                            10, 0.002)
                out_lat.append((time.monotonic() - t0) * 1000.0)
            cl.log("outgoing (ms): " + " ".join("%.0f" % x for x in out_lat))
            so = sorted(out_lat)
            cl.log("outgoing over %d messages (ms): min %.1f p50 %.1f max %.1f"
                   % (len(so), so[0], so[len(so) // 2], so[-1]))
            tap.ok(name, p99 <= P99_LIMIT_MS and so[-1] <= 10 * P99_LIMIT_MS,
                   "p99 %.1f ms (limit %.0f), slowest send %.1f ms" % (p99, P99_LIMIT_MS, so[-1]))

        name = next(n)
        if not cl.chats_available():
            tap.skip(name, "group chats are not in the plugin yet (no src/purple/amm-chat.c in build/libamm.so)")
        else:
            tap.run(name, group_chat, irc, server, bob)

        name = next(n)
        name_bytes = next(n)
        if not cl.plugin_has("xfer"):
            why = "attachments are not in the plugin yet (no src/purple/amm-xfer.c in build/libamm.so)"
            tap.skip(name, why)
            tap.skip(name_bytes, why)
        else:
            offer = attachment_offer(irc, server, bob)
            tap.ok(name, isinstance(offer, tuple), offer)
            if isinstance(offer, tuple):
                r = attachment_bytes(irc, *offer)
                tap.ok(name_bytes, r is None, r)
            else:
                tap.ok(name_bytes, False, "no DCC offer")

        irc.root("account amm off")
        irc.expect(r"amm - Signing off|amm - Logged out|Signing off", 10)
        tap.ok(next(n))
    except Exception as e:  # noqa: BLE001
        diag = "%s: %s" % (type(e).__name__, e)
        if irc:
            diag += "\nIRC transcript (last lines):\n" + irc.tail()
        try:
            diag += "\nbitlbee log:\n" + open(work.join("bitlbee-%s.log" % mode)).read()[-3000:]
        except OSError:
            pass
        tap.fail_rest(diag)
    finally:
        if irc:
            irc.close()
        if bee:
            bee.stop()
        server.stop()
    return 0 if all(tap.done.values()) else 1


def typing_in(irc, server, bob, threads):
    """bob's chatState (control port) -> CTCP TYPING from bob: 1 composing, 2 paused, 0 stopped."""
    if not threads:
        return False, "no 1:1 conversation of bob with alice"
    thread = threads[0]
    got = []
    for state, want in (("composing", "1"), ("paused", "2"), ("active", "0")):
        relayed = server.typing("bob@example.com", thread, state)
        try:
            _, m = irc.expect(r"^:%s!\S+ PRIVMSG alice :\x01TYPING (\d)\x01$" % re.escape(bob), 10)
        except TimeoutError:
            return False, "%s (relayed to %s channels): no CTCP TYPING; got %s" % (state, relayed, got)
        got.append((state, m.group(1)))
        if m.group(1) != want:
            return False, "%s: TYPING %s, expected %s (so far %s)" % (state, m.group(1), want, got)
    return True, "%s" % got


def typing_out(irc, server, bob, threads):
    """CTCP TYPING from the IRC client -> the plugin's chatState, as bob's own notification
    channel (an SSE channel opened here as bob, subscribed to the conversations) receives it."""
    if not threads:
        return False, "no 1:1 conversation of bob with alice"
    # the plugin types into the thread it maps the IM to: listen on all of bob's with alice
    bob_ch = cl.ChatStateListener(server, "bob@example.com", "bob-pw", threads)
    try:
        got = []
        for ctcp, want in (("1", "composing"), ("0", "paused")):
            irc.send("PRIVMSG %s :\x01TYPING %s\x01" % (bob, ctcp))
            state = bob_ch.next_state(10)
            got.append((ctcp, state))
            if state != want:
                return False, "TYPING %s: bob got chatState %r, expected %r (so far %s)" % (
                    ctcp, state, want, got)
        return True, "%s" % got
    finally:
        bob_ch.close()


def group_chat(irc, server, bob):
    sent = server.send("bob@example.com", ["alice@example.com", "carol@example.com"],
                       "Hello group, from bob", thread=None)
    thread = sent["threadId"]
    _, m = irc.expect(r"^:alice!\S+ JOIN :?(#\S+)", 10)
    chan = m.group(1)
    irc.expect(r"^:%s!\S+ PRIVMSG %s :Hello group, from bob$" % (re.escape(bob), re.escape(chan)), 10)
    irc.send("PRIVMSG %s :Hello all, from alice" % chan)
    if not cl.wait_for(lambda: server.has_message("carol@example.com", "alice@example.com",
                                                  "Hello all, from alice"), 10):
        return "carol did not get alice's group message"
    server.send("carol@example.com", [], "carol here", thread=thread)
    irc.expect(r"^:carol\S*!\S+ PRIVMSG %s :carol here$" % re.escape(chan), 10)
    irc.send("PART %s" % chan)
    irc.expect(r"^:alice!\S+ PART :?%s" % re.escape(chan), 10)
    return None


# ~240 KB: several HTTP reads and a few hundred of Bitlbee's 1 KiB DCC blocks, so that Bitlbee
# streams the file while the plugin is still writing it
ATTACHMENT = b"".join(b"line %05d of bob's notes\n" % i for i in range(10000))


def attachment_offer(irc, server, bob):
    """bob sends a file (REST, multipart/related); Bitlbee offers it as a DCC SEND from bob.
    Returns (host, port, size) of the offer."""
    import struct
    server.send_attachment("bob@example.com", "bob-pw", ["alice@example.com"], "notes for you",
                           "notes.txt", "text/plain", ATTACHMENT)
    irc.expect(r"^:%s!\S+ PRIVMSG alice :notes for you$" % re.escape(bob), 10)
    _, m = irc.expect(r"^:%s!\S+ PRIVMSG alice :\x01?DCC SEND notes\.txt (\d+) (\d+) (\d+)" % re.escape(bob), 15)
    ip, port, size = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if size != len(ATTACHMENT):
        return "DCC SEND announces %d bytes, the file has %d" % (size, len(ATTACHMENT))
    return (socket.inet_ntoa(struct.pack("!I", ip)), port, size)


def attachment_bytes(irc, host, port, size):
    """Takes the DCC SEND (connect, read, acknowledge) and compares the bytes."""
    import struct
    got = b""
    with socket.create_connection((host, port), 10) as s:
        s.settimeout(10)
        try:
            while len(got) < size:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
                s.sendall(struct.pack("!I", len(got) & 0xffffffff))
        except socket.timeout:
            return "DCC: %d of %d bytes after 10 s" % (len(got), size)
    if got != ATTACHMENT:
        return "received %d bytes, they differ from what bob sent (%d bytes)" % (len(got), len(ATTACHMENT))
    return None


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
