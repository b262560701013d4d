"""Finch (libpurple's text UI) with the AMM plugin, under tmux; then `make demo`'s script.

The config dir is written by tests/clients/purple-config.sh, as `make demo` writes it: the plugin
in DIR/plugins and an accounts.xml with auto-login. The screen is read with tmux capture-pane;
what Finch sends is checked at the server (GET /control/messages?user=bob@example.com).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib as cl  # noqa: E402


class Tmux:
    def __init__(self, work, name):
        self.sock = work.join("tmux.sock")
        self.name = name

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def start(self, command, env):
        # the tmux server (and so the client) gets exactly this environment
        subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", "new-session", "-d",
                        "-s", self.name, "-x", "160", "-y", "45", command],
                       check=True, env=env)

    def screen(self):
        r = self.tmux("capture-pane", "-p", "-t", self.name, check=False)
        return r.stdout if r.returncode == 0 else ""

    def wait_screen(self, text, timeout=10):
        return cl.wait_for(lambda: text in self.screen(), timeout, 0.1)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.name, *keys)

    def alive(self):
        return self.tmux("has-session", "-t", self.name, check=False).returncode == 0

    def kill(self):
        self.tmux("kill-server", check=False)


def alice_connected(server):
    return server.stats().get("channels", {}).get("alice@example.com", 0) > 0


def main():
    names = ["finch: starts with the plugin from DIR/plugins and the account logs in (auto-login)",
             "finch: an IM from bob appears on screen",
             "finch: a reply typed into Finch reaches bob",
             "finch: a group conversation opens with bob's message",
             "make demo (tests/demo.sh): Finch shows bob's greeting and bob answers alice",
             "make demo: quitting Finch stops the server and removes the temp dir"]
    tap = cl.Tap(names)
    missing = cl.need(["finch", "tmux", cl.PLUGIN, cl.SERVER])
    if missing:
        tap.fail_rest("missing: %s (tests/ensure-deps.sh test installs finch and tmux)" % missing)
        return 1
    work = cl.Workdir("amm-finch-")
    server = cl.AmmServer(work.path)
    cfg = cl.purple_config_dir(work.join("finch"), "gnt-purple", server)
    tm = Tmux(work, "finch")
    env = cl.client_env(work.path, TERM="xterm-256color")
    try:
        tm.start("finch -c %s 2>%s" % (cfg, work.join("finch.stderr")), env)
        ok = cl.wait_for(lambda: alice_connected(server), 15, 0.1)
        tap.ok(names[0], ok, "screen:\n" + tm.screen())

        server.send("bob@example.com", ["alice@example.com"], "Hello Finch, from bob")
        ok = tm.wait_screen("Hello Finch, from bob", 10)
        tap.ok(names[1], ok, "screen:\n" + tm.screen())

        # the new conversation window opens behind the focus (the buddy list keeps it):
        # Alt-N moves the focus to the next window, the conversation, whose entry takes the text
        reply = "Hi bob, Finch & alice here"
        tm.keys("M-n")
        time.sleep(0.3)
        tm.keys("-l", reply)
        tm.keys("Enter")
        ok = cl.wait_for(lambda: server.has_message("bob@example.com", "alice@example.com", reply), 10)
        tap.ok(names[2], ok, "bob's messages: %s\nscreen:\n%s" % (
            [m.get("body") for m in server.messages("bob@example.com")], tm.screen()))

        if not cl.chats_available():
            tap.skip(names[3], "group chats are not in the plugin yet (no src/purple/amm-chat.c in build/libamm.so)")
        else:
            server.send("bob@example.com", ["alice@example.com", "carol@example.com"],
                        "Hello group, from bob")
            # a new chat window appears in the task bar (bottom line) behind the focus;
            # Alt-N cycles the windows until the chat is in front
            opened = cl.wait_for(lambda: len(tm.screen().rstrip().splitlines()[-1].split("│")) >= 3, 10, 0.1)
            ok = False
            for _ in range(3):
                tm.keys("M-n")
                if tm.wait_screen("Hello group, from bob", 1.5):
                    ok = True
                    break
            tap.ok(names[3], opened and ok, "screen:\n" + tm.screen())
        tm.keys("M-q")
        cl.wait_for(lambda: not tm.alive(), 5)
    except Exception as e:  # noqa: BLE001
        tap.fail_rest("%s: %s\nscreen:\n%s" % (type(e).__name__, e, tm.screen()))
    finally:
        tm.kill()
        server.stop()

    demo(tap, names[4], names[5], work)
    return 0 if all(tap.done.values()) else 1


def demo(tap, name_run, name_stop, work):
    """tests/demo.sh as `make demo` runs it, inside tmux: bob (the server's --bot) greets alice,
    alice answers, bob's bot answers back."""
    tm = Tmux(work, "demo")
    tmp = work.join("demo-tmp")
    os.makedirs(tmp)
    env = cl.client_env(work.path, TERM="xterm-256color", TMPDIR=tmp, AMM_BUILD_DIR=cl.BUILD)
    try:
        # the demo runs on the pane's terminal as `make demo` does; when Finch quits, its
        # goodbye line stays on the (normal) screen
        tm.start("sh %s; echo DEMO-EXIT $?; sleep 60" % os.path.join(cl.SRC, "tests", "demo.sh"), env)
        ok = tm.wait_screen("I am a scripted bob", 20)
        if not ok:
            tap.ok(name_run, False, "screen:\n%s" % tm.screen())
        else:
            tm.keys("M-n")
            time.sleep(0.3)
            tm.keys("-l", "ping from the demo test")
            tm.keys("Enter")
            ok = tm.wait_screen("got: ping from the demo test", 10)
            tap.ok(name_run, ok, "screen:\n" + tm.screen())
        tm.keys("M-q")
        gone = tm.wait_screen("DEMO-EXIT", 10)
        screen = tm.screen()
        left = os.listdir(tmp)
        tap.ok(name_stop, gone and "stopped the AMM server" in screen and not left,
               "left in TMPDIR: %s, screen:\n%s" % (left, screen))
    except Exception as e:  # noqa: BLE001
        tap.fail_rest("%s: %s\nscreen:\n%s" % (type(e).__name__, e, tm.screen()))
    finally:
        tm.kill()


if __name__ == "__main__":
    sys.exit(main())
