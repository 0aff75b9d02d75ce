"""The peer of the replies benchmarks: Python's smtplib sending COUNT replies of the outbox's shape
(text and HTML alternatives, In-Reply-To, References, Auto-Submitted) to the loopback Postfix over
CONNECTIONS connections at once, one thread and one SMTP session each, every reply on a session
already open. No database, no queue: what a bare client reaches against the same server on the
same machine, in the same run (bench/outbox_drain.ts and bench/send_replies.ts call it). Prints
one JSON line: {"connections", "sent", "seconds", "per_second", "cpu_seconds" (this process),
"machine_cpu_seconds" (the whole machine, from /proc/stat; null where it is not readable)}, the
CPU counted over the sends only.

    python3 bench/smtplib_peer.py TO COUNT CONNECTIONS [HOST] [PORT]
"""

import json
import smtplib
import sys
import threading
import time
import uuid
from email.message import EmailMessage


def reply(i: int, to: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Atendimento <atendimento@example.test>"
    m["To"] = to
    m["Subject"] = f"Re: Pedido {i}"
    m["Message-ID"] = f"<peer.{i}.{uuid.uuid4()}@example.test>"
    m["In-Reply-To"] = f"<m{i}@example.test>"
    m["References"] = f"<m{i}@example.test>"
    m["Auto-Submitted"] = "auto-replied"
    m.set_content(f"Olá, recebemos sua mensagem {i}.")
    m.add_alternative(f"<p>Olá, recebemos sua mensagem {i}.</p>", subtype="html")
    return m


def machine_cpu_seconds() -> float | None:
    """User, nice, system, irq and softirq time of every core, as bench/support.ts counts it."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:8]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / 100


def main() -> None:
    to, count, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    port = int(sys.argv[5]) if len(sys.argv) > 5 else 1025
    # Built before the clock starts, as the outbox holds its replies before the drain.
    messages = [reply(i, to) for i in range(count)]
    sent = [0] * connections
    errors: list[str] = []

    def send(k: int) -> None:
        try:
            with smtplib.SMTP(host, port) as s:
                for m in messages[k::connections]:
                    s.send_message(m, from_addr="atendimento@example.test", to_addrs=[to])
                    sent[k] += 1
        except Exception as e:  # noqa: BLE001 - reported, and the run fails below
            errors.append(repr(e))

    threads = [threading.Thread(target=send, args=(k,)) for k in range(connections)]
    machine_before = machine_cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    machine_after = machine_cpu_seconds()
    if errors:
        print(f"smtplib peer: {errors[0]}", file=sys.stderr)
        sys.exit(1)
    total = sum(sent)
    print(json.dumps({
        "connections": connections,
        "sent": total,
        "seconds": seconds,
        "per_second": total / seconds,
        "cpu_seconds": cpu,
        "machine_cpu_seconds": None if machine_before is None or machine_after is None
        else machine_after - machine_before,
    }))


main()
