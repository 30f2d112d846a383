"""Home Assistant's, NUT's own and nut2-notl's Python clients against a running hidupsd.

Usage: clients.py HOST PORT UPS USER PASSWORD
Exits non-zero, naming the call, when any call fails or answers wrongly.
"""
import asyncio
import sys
import time

from PyNUTClient import PyNUT
import aionut
import nut2

host, port, ups, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


def check(what, cond, got):
    if not cond:
        sys.exit(f"{what}: unexpected answer {got!r}")
    print(f"ok {what}")


def pynut():
    c = PyNUT.PyNUTClient(host=host, port=port, login=user, password=password, timeout=5)
    names = c.GetUPSList()
    check("PyNUT GetUPSList", ups.encode() in names, names)
    v = c.GetUPSVars(ups)
    check("PyNUT GetUPSVars", v.get(b"ups.status", b"").startswith(b"OL"), v.get(b"ups.status"))
    check("PyNUT CheckUPSAvailable", c.CheckUPSAvailable(ups), None)
    cmds = c.GetUPSCommands(ups)
    check("PyNUT GetUPSCommands", b"beeper.disable" in cmds, list(cmds)[:5])
    rw = c.GetRWVars(ups)
    check("PyNUT GetRWVars", b"battery.charge.low" in rw, rw)
    r = c.SetRWVar(ups, "battery.charge.low", "40")
    check("PyNUT SetRWVar", r == "OK", r)
    # The write reaches the device and reads back at the next full poll.
    deadline = time.time() + 8
    while c.GetUPSVars(ups).get(b"battery.charge.low") != b"40" and time.time() < deadline:
        time.sleep(0.2)
    low = c.GetUPSVars(ups).get(b"battery.charge.low")
    check("PyNUT battery.charge.low reads back", low == b"40", low)
    r = c.RunUPSCommand(ups, "beeper.disable")
    check("PyNUT RunUPSCommand", r == "OK", r)
    clients = c.ListClients(ups)
    check("PyNUT ListClients", isinstance(clients, dict), clients)
    check("PyNUT ver", b"hidupsd" in c.ver(), c.ver())


async def ha():
    c = aionut.AIONUTClient(host=host, port=port, username=user, password=password, timeout=5)
    try:
        upses = await c.list_ups()
        check("aionut list_ups", ups in upses, upses)
        v = await c.list_vars(ups)
        check("aionut list_vars", v.get("ups.status", "").startswith("OL"), v.get("ups.status"))
        cmds = await c.list_commands(ups)
        check("aionut list_commands", "beeper.disable" in cmds, list(cmds)[:5])
        d = await c.description(ups)
        check("aionut description", isinstance(d, str), d)
        await c.run_command(ups, "beeper.enable")
        print("ok aionut run_command")
    finally:
        c.disconnect()


def nut2_lists():
    # nut2-notl reads the socket again before looking at what it holds:
    # a list that came whole with its BEGIN line waited its whole timeout
    # (5 s) every time. Each call must be quick, every time. (Its
    # list_clients sends "LIST CLIENTS", which no NUT server knows.)
    c = nut2.PyNUTClient(host=host, port=port, login=user, password=password, timeout=5)
    calls = [
        ("list_ups", lambda: c.list_ups(), lambda r: ups in r),
        ("list_vars", lambda: c.list_vars(ups), lambda r: r.get("ups.status", "").startswith("OL")),
        ("list_commands", lambda: c.list_commands(ups), lambda r: "beeper.disable" in r),
        ("list_rw_vars", lambda: c.list_rw_vars(ups), lambda r: "battery.charge.low" in r),
    ]
    for name, call, ok in calls:
        worst = 0.0
        for _ in range(20):
            t = time.monotonic()
            r = call()
            worst = max(worst, time.monotonic() - t)
            if not ok(r):
                check(f"nut2-notl {name}", False, r)
        check(f"nut2-notl {name} x20, slowest {worst * 1000:.1f} ms", worst < 1.0, worst)


pynut()
asyncio.run(ha())
nut2_lists()
print("all python client calls passed")
