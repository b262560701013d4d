"""Pidgin with the AMM plugin under Xvfb, inside a private D-Bus session (run by
test-pidgin.sh through dbus-run-session). State comes from libpurple's D-Bus API; screenshots
of the buddy list and a conversation are taken with ImageMagick's `import -window root`.

AMM_UPDATE_SCREENSHOTS=1 also copies them to docs/screenshots/ (the committed ones).
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib as cl  # noqa: E402

IMPORT = "/usr/bin/import"      # /usr/local/bin may hold a stand-in; ImageMagick's are in /usr/bin
CONVERT = "/usr/bin/convert"
DEST = "im.pidgin.purple.PurpleService"
OBJ = "/im/pidgin/purple/PurpleObject"
IFACE = "im.pidgin.purple.PurpleInterface"


def purple(method, *args):
    """A libpurple D-Bus call; returns the reply's values as strings."""
    r = subprocess.run(["dbus-send", "--session", "--print-reply", "--reply-timeout=3000",
                        "--dest=" + DEST, OBJ, IFACE + "." + method] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    if r.returncode != 0:
        return None
    return re.findall(r"(?:int32|uint32|string) \"?([^\"\n]*)\"?", r.stdout)


def connected_account():
    v = purple("PurpleAccountsFindConnected", "string:alice@example.com", "string:prpl-amm")
    return int(v[0]) if v else 0


def count(method):
    v = purple(method)
    return len(v) if v is not None else -1


def shot(display, path):
    subprocess.run([IMPORT, "-display", display, "-window", "root", path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
    colours = subprocess.run([CONVERT, path, "-format", "%k", "info:"], check=True,
                             stdout=subprocess.PIPE, text=True, timeout=20).stdout.strip()
    return int(colours or 0)


def start_xvfb(work):
    r, w = os.pipe()
    proc = subprocess.Popen(["/usr/bin/Xvfb", "-displayfd", str(w), "-screen", "0", "1024x768x24",
                             "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=open(work.join("xvfb.log"), "w"), start_new_session=True)
    os.close(w)
    num = b""
    end = time.monotonic() + 15
    while not num.endswith(b"\n") and time.monotonic() < end:
        chunk = os.read(r, 16)
        if not chunk:
            break
        num += chunk
    os.close(r)
    if not num.strip():
        raise RuntimeError("Xvfb did not start: " + open(work.join("xvfb.log")).read())
    return proc, ":" + num.decode().strip()


def main():
    names = ["pidgin: starts under Xvfb with the plugin from DIR/plugins; the account connects (D-Bus PurpleAccountsFindConnected)",
             "pidgin: screenshot of the buddy list",
             "pidgin: an IM from bob opens a conversation (D-Bus PurpleGetIms) and is logged",
             "pidgin: screenshot of the conversation window",
             "pidgin: a group conversation appears (D-Bus PurpleGetChats)"]
    tap = cl.Tap(names)
    missing = cl.need(["/usr/bin/pidgin", "/usr/bin/Xvfb", "/usr/bin/dbus-send", IMPORT, CONVERT,
                       cl.PLUGIN, cl.SERVER])
    if missing:
        tap.fail_rest("missing: %s (tests/ensure-deps.sh test installs pidgin xvfb dbus imagemagick)" % missing)
        return 1
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        tap.fail_rest("no D-Bus session: run through test-pidgin.sh (dbus-run-session)")
        return 1
    work = cl.Workdir("amm-pidgin-")
    shots = os.path.join(cl.BUILD, "screenshots")
    os.makedirs(shots, exist_ok=True)
    server = cl.AmmServer(work.path)
    cfg = cl.purple_config_dir(work.join("pidgin"), "gtk-gaim", server)
    xvfb = pidgin = None
    try:
        xvfb, display = start_xvfb(work)
        env = cl.client_env(work.path, DISPLAY=display, NO_AT_BRIDGE="1", GTK_THEME="Adwaita")
        pidgin = subprocess.Popen(["/usr/bin/pidgin", "-c", cfg], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(work.join("pidgin.log"), "w"), start_new_session=True)
        acc = cl.wait_for(connected_account, 20, 0.2)
        tap.ok(names[0], acc and cl.wait_for(lambda: server.stats()["channels"].get("alice@example.com"), 10),
               "pidgin log:\n" + open(work.join("pidgin.log")).read()[-2000:])

        # the buddy list is drawn some time after sign-on
        p = os.path.join(shots, "pidgin-buddy-list.png")
        n = cl.wait_for(lambda: (lambda k: k if k > 8 else 0)(shot(display, p)), 10, 0.5)
        time.sleep(0.5)
        n = shot(display, p)
        tap.ok(names[1], n > 8, "the screenshot has %d colours" % n)

        server.send("bob@example.com", ["alice@example.com"], "Hello Pidgin, from bob")
        ok = cl.wait_for(lambda: count("PurpleGetIms") > 0, 10, 0.2)
        logged = cl.wait_for(lambda: log_has(cfg, "Hello Pidgin, from bob"), 10, 0.2)
        tap.ok(names[2], ok and logged, "IMs: %s, logged: %s" % (count("PurpleGetIms"), logged))

        time.sleep(1.0)
        p = os.path.join(shots, "pidgin-conversation.png")
        n = shot(display, p)
        tap.ok(names[3], n > 8, "the screenshot has %d colours" % n)

        if not cl.chats_available():
            tap.skip(names[4], "group chats are not in the plugin yet (no src/purple/amm-chat.c in build/libamm.so)")
        else:
            server.send("bob@example.com", ["alice@example.com", "carol@example.com"], "Hello group, from bob")
            ok = cl.wait_for(lambda: count("PurpleGetChats") > 0, 10, 0.2)
            tap.ok(names[4], ok, "chats: %s" % count("PurpleGetChats"))
            time.sleep(1.0)
            shot(display, os.path.join(shots, "pidgin-group.png"))
        if os.environ.get("AMM_UPDATE_SCREENSHOTS"):
            dest = os.path.join(cl.SRC, "docs", "screenshots")
            os.makedirs(dest, exist_ok=True)
            for f in os.listdir(shots):
                # without a window manager the windows sit at the top left of a black screen
                subprocess.run([CONVERT, os.path.join(shots, f), "-trim", "+repage",
                                os.path.join(dest, f)], check=True, timeout=20)
            cl.log("screenshots copied to", dest)
    except Exception as e:  # noqa: BLE001
        tap.fail_rest("%s: %s" % (type(e).__name__, e))
    finally:
        cl.kill_group(pidgin)
        cl.kill_group(xvfb)
        server.stop()
    return 0 if all(tap.done.values()) else 1


def log_has(cfg, text):
    for root, _, files in os.walk(os.path.join(cfg, "logs")):
        for f in files:
            try:
                if text in open(os.path.join(root, f), errors="replace").read():
                    return True
            except OSError:
                pass
    return False


if __name__ == "__main__":
    sys.exit(main())
