"""The end-to-end tests' shared verdicts: each check prints ok/FAIL with its
name, and `finish` prints the tally and exits non-zero if any failed."""

import sys

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        results["passed"] += 1
        print(f"ok   {name}", flush=True)
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}", flush=True)
    return ok


def finish(suite):
    print(f"{suite}: {results['passed']} passed, {results['failed']} failed", flush=True)
    sys.exit(1 if results["failed"] else 0)
