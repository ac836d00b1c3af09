"""Generates the benchmark playbooks: N cheap steps each."""
import sys

kind, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write('[scenario]\nname = "bench-%s-%d"\n\n[vars]\nlimit = 10\n\n' % (kind, n))
    for i in range(n):
        if kind == "validate":
            # A realistic mix: ids, templates, expressions, timeouts.
            f.write(
                '[[steps]]\nid = "s%d"\nuses = "http.request"\n'
                'with = { url = "http://127.0.0.1:1/{{ vars.limit }}/%d" }\n'
                'until = "output.status == 200"\ntimeout = "5s"\n\n' % (i, i)
            )
            f.write('[[steps]]\nuses = "assert"\nwith.that = ["steps.s%d.status < 500", "vars.limit > 0"]\n\n' % i)
        else:
            f.write('[[steps]]\nuses = "assert"\nwith.that = ["vars.limit > %d"]\n\n' % -i)
