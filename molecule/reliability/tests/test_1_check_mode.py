"""Check mode on the fresh baseline: `site.yml --check` must not change anything.

The converge applied only playbooks/lab.yml, so every investigation has work to do. Before and
after `ansible-playbook site.yml --check` (and investigation3.yml --check, as site.yml stops when
every host of a play fails) the suite takes a snapshot of every lab host: sha256,
owner, group and mode of main.cf, master.cf, policyd-spf.conf (absent on the baseline), the
zone, named's configuration and the resolver files; whether postfix and named are active, their
main PIDs, qmgr's PID (a reload replaces it) and named's "last configured" time (an rndc reload
changes it); the installed packages and the users and groups. Any difference is a change that
check mode made.

The snapshot taken here is also the baseline of the owners and modes that test_5_security.py
holds the files to at the end.
"""

from conftest import run_playbook

from reliability_lab import STATE, record_figures, show, snapshot, snapshot_differences


def test_site_check_mode_changes_nothing_on_the_fresh_baseline(hosts, capsys):
    before = snapshot(hosts)
    STATE["baseline"] = before
    assert before["vm3"]["files"]["/etc/postfix/main.cf"] is not None, "no main.cf: the baseline is not applied"
    site = run_playbook("site.yml", check=True, diff=True)
    # site.yml stops at the first play whose hosts all fail; the zone's play comes last, so it
    # is also previewed on its own.
    zone = run_playbook("investigation3.yml", check=True, diff=True)
    after = snapshot(hosts)
    diffs = snapshot_differences(before, after)
    STATE["check_mode_runs"] = (site, zone)
    figures = dict(site=dict(rc=site.rc, would_change={h: s.get("changed", 0) for h, s in site.stats.items()},
                             failed=site.failed()),
                   investigation3=dict(rc=zone.rc, would_change=zone.changed("vm1")),
                   differences=diffs, files_compared=sum(len(s["files"]) for s in before.values()))
    record_figures("check_mode", figures)
    show(capsys, "check mode on the fresh baseline", [
        "site.yml --check: rc %s, tasks that would change: %s" % (site.rc, figures["site"]["would_change"]),
        "investigation3.yml --check: rc %s, tasks that would change on vm1: %s" % (zone.rc, zone.changed("vm1")),
        "%d files, the daemons, packages and users of %d hosts compared before and after: %d differences"
        % (figures["files_compared"], len(hosts), len(diffs))] + diffs)
    assert not diffs, "check mode changed the lab:\n" + "\n".join(diffs)
    # The investigations have work to do on the baseline: check mode must say so.
    assert site.changed("vm3") > 0, site
    assert zone.changed("vm1") > 0, zone


WIRING_TASK = "Wire policyd-spf into Postfix (service, time limit, restriction)"


def task_results(run, name, host):
    return [task["hosts"][host] for play in run.data.get("plays", []) for task in play.get("tasks", [])
            # a role's task is named "<role> : <name>"
            if task["task"]["name"].split(" : ")[-1] == name and host in task.get("hosts", {})]


def test_site_check_mode_previews_the_policyd_spf_wiring():
    """Investigation 1 is only previewed, yet Investigation 2's wiring is previewed against it, not skipped.

    policyd_spf passes the postconf module's ops535_postconf_previewed fact: the wiring is planned
    against main.cf as Investigation 1 would leave it (its anchor, reject_unauth_destination, is not in
    the baseline's smtpd_recipient_restrictions).
    """
    site = (STATE.get("check_mode_runs") or (run_playbook("site.yml", check=True, diff=True),))[0]
    results = task_results(site, WIRING_TASK, "vm3")
    assert len(results) == 1, "the wiring task ran %d times on vm3 in site.yml --check: %s" % (len(results), site)
    wiring = results[0]
    assert not wiring.get("skipped") and not wiring.get("failed"), wiring
    assert wiring.get("changed") is True, wiring
    assert "smtpd_recipient_restrictions" in wiring["previewed_parameters"], wiring
    assert wiring["changed_services"] == ["policyd-spf/unix"], wiring
    diffs = wiring.get("diff") or []
    main_cf = [d for d in (diffs if isinstance(diffs, list) else [diffs])
               if d.get("after_header", "").endswith("/main.cf")]
    assert main_cf, wiring
    line = [entry for entry in main_cf[0]["after"].splitlines() if entry.startswith("smtpd_recipient_restrictions")]
    items = line[0].split("=", 1)[1].replace(",", " ").split()
    assert items.index("reject_unauth_destination") < items.index("check_policy_service"), line
    assert "check_policy_service" not in main_cf[0]["before"], main_cf[0]
    print("site.yml --check previews the wiring: %s; %s" % (main_cf[0]["before_header"], line[0]))


def test_site_check_mode_runs_to_the_end_on_the_fresh_baseline():
    """Check mode must be usable to preview the whole lab: every play on every host, no failure."""
    runs = STATE.get("check_mode_runs") or (run_playbook("site.yml", check=True),
                                            run_playbook("investigation3.yml", check=True))
    failed = ["%s --check: rc %s: %s" % (name, run.rc, run.messages().strip()[-1200:])
              for name, run in zip(("site.yml", "investigation3.yml"), runs) if run.rc != 0 or run.failed()]
    assert not failed, ("check mode fails on the fresh baseline (it must preview every investigation):\n"
                        + "\n".join(failed))
