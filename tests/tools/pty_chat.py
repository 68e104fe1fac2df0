#!/usr/bin/python3
"""pty_chat.py - drives `geb chat` through a pseudo-terminal, as a person at a
terminal would, and prints what happened as `key value...` lines for
tests/chat_test.sh to check.

    pty_chat.py GEB MODEL_DIR

Session 1 (-n 24): two turns, /clear and the first message again, /help,
one more turn, Ctrl-D.  Session 2 (replies until the context is full): a
reply cut by Ctrl-C, a turn after it, Ctrl-C at the empty prompt.  Every
read has a deadline, so a hang fails instead of blocking the test run.
"""
import os
import pty
import re
import select
import signal
import sys
import time

geb, model = sys.argv[1], sys.argv[2]
TURN = rb"turn: (\d+) prompt tokens evaluated \((\d+) cached\), (\d+) generated"


class Chat:
    def __init__(self, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(geb, [geb, "chat", "-m", model, "-v", "-s", "1", "--temp", "0", *args])
        self.buf = b""

    def read_until(self, pat, timeout=60.0):
        """Reads until regex pat matches what arrived since the last match."""
        end = time.time() + timeout
        while True:
            m = re.search(pat, self.buf, re.S)
            if m:
                got, self.buf = self.buf[: m.end()], self.buf[m.end():]
                return got
            left = end - time.time()
            if left <= 0:
                sys.stderr.write("timeout waiting for %r, got %r\n" % (pat, self.buf[-300:]))
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    return None
                self.buf += chunk

    def send(self, b):
        os.write(self.fd, b)

    def turn(self, text):
        self.send(text.encode() + b"\r")
        out = self.read_until(TURN + rb".*?>>> ", 120)
        m = re.search(TURN, out or b"")
        return tuple(int(g) for g in m.groups()) if m else (-1, -1, -1)

    def wait(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            wpid, st = os.waitpid(self.pid, os.WNOHANG)
            if wpid:
                return os.waitstatus_to_exitcode(st)
            try:
                if select.select([self.fd], [], [], 0.2)[0]:
                    os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        return None


c = Chat("-c", "1024", "-n", "24")
print("banner", 1 if c.read_until(rb">>> ") else 0)
print("turn1", *c.turn("hello there"))
print("turn2", *c.turn("and then what"))
c.send(b"/clear\r")
print("clear", 1 if c.read_until(rb"forgotten.*?>>> ", 30) else 0)
print("turn3", *c.turn("hello there"))
c.send(b"/help\r")
print("help", 1 if c.read_until(rb"/bye.*/clear.*Ctrl-D.*?>>> ", 30) else 0)
print("turn4", *c.turn("one more"))
c.send(b"\x04")
print("exit1", c.wait())

c = Chat("-c", "1024", "-n", "-1", "--ignore-eos")
c.read_until(rb">>> ")
c.send(b"tell me a very long story\r")
c.read_until(rb"story\r?\n", 30)
c.read_until(rb"\S", 30)  # the reply has started (it would run until 1024 tokens)
t0 = time.time()
c.send(b"\x03")
out = c.read_until(TURN + rb".*?>>> ", 60)
m = re.search(TURN, out or b"")
print("ctrlc", *(int(g) for g in (m.groups() if m else (-1, -1, -1))), "%.1f" % (time.time() - t0),
      1 if b"ended by interrupted" in (out or b"") else 0)
print("after", *c.turn("go on"))
c.send(b"\x03")
print("exit2", c.wait(60))
