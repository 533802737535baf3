# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a converge costs, from one lab to a class (docs/benchmark.md).

Run by bench/run.sh (`make bench`), one phase per call, each under the lab lock:

  bench.py single          one lab: site.yml fresh (from lab.yml's state, three labs), re-run,
                           --check and verify.yml; the hand-written Investigation 1 against
                           investigation1.yml on two identical labs (fresh and re-run)
  bench.py class N         N labs from fresh containers, site.yml in one run (forks 3 N),
                           the controller's memory sampled; verify.yml too when N is in
                           BENCH_VERIFY_SIZES
  bench.py report          the table and the targets, from the phases' JSON

Every phase starts by removing lab leftovers (scripts/lab-cleanup.sh), creates its own
containers and networks (labelled ops535.lab=true and ops535.bench=true) and removes them at the
end, also when it fails. Results: build/bench/<phase>.json, build/bench/results.json, logs of
every ansible-playbook run (with ansible.posix.profile_tasks) in build/bench/logs/.

Environment: LAB_IMAGE (default: build/.lab-image), BENCH_REPEAT (runs per measurement,
default 3), BENCH_CLASS_SIZES (default "1 5 10"), BENCH_VERIFY_SIZES (default "1 10"),
BENCH_RERUN_SIZES (class sizes that also get a no-change re-run of site.yml; default none),
BENCH_DIR (default build/bench).
"""

from __future__ import absolute_import, division, print_function

import csv
import ipaddress
import json
import resource
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import lab_env  # noqa: E402 pylint: disable=wrong-import-position
OUT = os.path.abspath(os.environ.get('BENCH_DIR') or os.path.join(ROOT, 'build', 'bench'))
REPEAT = int(os.environ.get('BENCH_REPEAT') or 3)
CLASS_SIZES = [int(n) for n in (os.environ.get('BENCH_CLASS_SIZES') or '1 5 10').split()]
VERIFY_SIZES = [int(n) for n in (os.environ.get('BENCH_VERIFY_SIZES') or '1 10').split()]
RERUN_SIZES = [int(n) for n in (os.environ.get('BENCH_RERUN_SIZES') or '').split()]
VMS = ('vm1', 'vm2', 'vm3')
PAGE = os.sysconf('SC_PAGE_SIZE')
CORES = len(os.sched_getaffinity(0))
T0 = time.time()

# The targets of the issue ("Benchmark: what a converge costs, from one lab to a class").
TARGET_INV1_RATIO = 0.5         # investigation1.yml re-run / hand-written re-run, wall time
TARGET_ROUND_TRIPS = 2          # on-host tasks per host per role, site.yml re-run
TARGET_CLASS_RATIO = 4.0        # 10 labs / 1 lab, site.yml converge wall time
TARGET_VERIFY_RATIO = 3.0       # 10 labs / 1 lab, verify.yml wall time (strictly less)


def log(message):
    print('[bench %5.0fs] %s' % (time.time() - T0, message), flush=True)


def die(message):
    print('ERROR: %s' % message, file=sys.stderr, flush=True)
    sys.exit(1)


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


TOPOLOGY = load_yaml(os.path.join(HERE, 'topology.yml'))
ROSTER_TEMPLATE = os.path.join(HERE, 'inventory', 'roster.yml')
CONTAINER_PREFIX = load_yaml(ROSTER_TEMPLATE)['lab_vars']['bench_container_prefix']
LABELS = ['--label', 'ops535.lab=true', '--label', 'ops535.bench=true']


# ------------------------------------------------------------------ labs as containers
def lab_layout(block, topology=None):
    """Where a lab's hosts sit in its block: the lab-in-a-box's layout (.config/molecule/lab.env.yml,
    scripts/lab_env.py). vm1, vm2 and vm3 at their offsets from the lab network's first address;
    the gateway as far from the block's end as the lab's gateway is from its network's end.
    The file's values, not the environment's: an override for the Molecule lab (LAB_VM1_ADDRESS=...)
    does not move the benchmark's labs."""
    topology = topology or lab_env.resolve(environ={})
    net = ipaddress.ip_network(topology['LAB_SUBNET'])
    offsets = dict((vm, int(ipaddress.ip_address(topology['LAB_%s_ADDRESS' % vm.upper()])) - int(net.network_address))
                   for vm in VMS)
    from_end = int(net.broadcast_address) - int(ipaddress.ip_address(topology['LAB_GATEWAY']))
    offsets['gateway'] = block.num_addresses - 1 - from_end
    hosts = [offsets[vm] for vm in VMS] + [offsets['gateway']]
    if len(set(hosts)) != len(hosts) or min(hosts) < 1 or max(hosts) > block.num_addresses - 2:
        die('the lab layout of %s (%s) does not fit a /%d block: offsets %s'
            % (os.path.relpath(lab_env.SOURCE, ROOT), net, block.prefixlen, offsets))
    return offsets


def lab_plan(count):
    """The first ``count`` labs of the topology: student, domain, addresses, network."""
    pool = ipaddress.ip_network(TOPOLOGY['pool'])
    blocks = list(pool.subnets(new_prefix=int(TOPOLOGY['lab_prefix'])))
    if count > len(blocks):
        die('%d labs do not fit in %s with a /%s per lab (at most %d)'
            % (count, pool, TOPOLOGY['lab_prefix'], len(blocks)))
    offsets = lab_layout(blocks[0])
    labs = []
    for index in range(1, count + 1):
        block = blocks[index - 1]
        student = TOPOLOGY['student_format'].format(index=index)
        lab = {
            'student': student,
            'domain': TOPOLOGY['domain_format'].format(student=student),
            'subnet': str(block),
            'gateway': str(block[offsets['gateway']]),
            'network': TOPOLOGY['network_prefix'] + student,
        }
        for vm in VMS:
            lab[vm] = str(block[offsets[vm]])
            lab[vm + '_container'] = '%s%s-%s' % (CONTAINER_PREFIX, student, vm)
        labs.append(lab)
    return labs


def docker(*args, check=True, timeout=120):
    proc = subprocess.run(('docker',) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('docker %s failed: %s' % (' '.join(args[:3]), proc.stderr.strip()))
    return proc


def check_pool():
    """Refuse a pool that overlaps one of this machine's routes (after the leftovers are gone)."""
    pool = ipaddress.ip_network(TOPOLOGY['pool'])
    for net in (ipaddress.ip_network('10.0.0.0/8'), ipaddress.ip_network('172.16.0.0/12'),
                ipaddress.ip_network('192.168.0.0/16')):
        if pool.overlaps(net):
            die('the bench pool %s overlaps the private range %s' % (pool, net))
    routes = json.loads(subprocess.run(['ip', '-json', 'route'], stdout=subprocess.PIPE,
                                       universal_newlines=True, check=True).stdout or '[]')
    for route in routes:
        dst = route.get('dst', '')
        if dst in ('', 'default') or ':' in dst:
            continue
        net = ipaddress.ip_network(dst if '/' in dst else dst + '/32', strict=False)
        if net.overlaps(pool):
            die('the bench pool %s overlaps the route %s (dev %s) of this machine; a lab that is not '
                'labelled ops535.lab=true may be running - remove it, or change pool in bench/topology.yml'
                % (pool, dst, route.get('dev', '?')))


def cleanup_leftovers():
    subprocess.run([os.path.join(ROOT, 'scripts', 'lab-cleanup.sh')], check=True)
    remove_own()


def remove_own():
    """Remove the containers and networks this benchmark created (label ops535.bench=true)."""
    ids = docker('ps', '-aq', '--filter', 'label=ops535.bench=true', check=False).stdout.split()
    if ids:
        docker('rm', '-f', *ids, check=False, timeout=300)
    nets = docker('network', 'ls', '-q', '--filter', 'label=ops535.bench=true', check=False).stdout.split()
    if nets:
        docker('network', 'rm', *nets, check=False)


INOTIFY = '/proc/sys/fs/inotify/max_user_instances'


def ensure_inotify(containers):
    """Enough inotify instances for ``containers`` systemd containers.

    systemd, journald and dbus in each container hold about 6 inotify instances, all counted
    against root on the host; the kernel's default limit (128 per user) stops at about 20 lab
    containers (systemd then never reaches "running"). Raised here when it is too low (needs root;
    it lasts until the next boot); bench.py says so.
    """
    need = 10 * containers + 64
    try:
        with open(INOTIFY) as handle:
            current = int(handle.read())
    except (OSError, ValueError):
        return
    if current >= need:
        return
    target = max(need, 512)
    try:
        with open(INOTIFY, 'w') as handle:
            handle.write('%d\n' % target)
    except OSError as exc:
        die('fs.inotify.max_user_instances is %d; %d systemd containers need about %d. Raise it as root: '
            'sysctl -w fs.inotify.max_user_instances=%d (%s)' % (current, containers, need, target, exc))
    log('raised fs.inotify.max_user_instances from %d to %d for %d systemd containers (until the next boot)'
        % (current, target, containers))


def start_labs(labs, image):
    """Create each lab's network and its three systemd containers; wait until systemd runs."""
    for lab in labs:
        docker('network', 'create', '--driver', 'bridge', '--subnet', lab['subnet'],
               '--gateway', lab['gateway'], *LABELS, lab['network'])

    def run_container(item):
        lab, vm = item
        docker('run', '-d', '--name', lab[vm + '_container'], '--hostname', vm, *LABELS,
               '--network', lab['network'], '--ip', lab[vm],
               '--cap-add', 'SYS_ADMIN', '--cgroupns', 'host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw',
               '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp',
               '--stop-signal', 'SIGRTMIN+3', image, '/lib/systemd/systemd')

    def wait_systemd(item):
        lab, vm = item
        deadline = time.time() + 90
        while True:
            # right after the start the system bus is not there yet: systemctl cannot even ask
            proc = docker('exec', lab[vm + '_container'], 'timeout', '60', 'systemctl', 'is-system-running', '--wait',
                          check=False, timeout=90)
            state = proc.stdout.strip()
            if state in ('running', 'degraded'):
                return
            if time.time() > deadline:
                name = lab[vm + '_container']
                status = docker('inspect', '-f', '{{.State.Status}}', name, check=False).stdout.strip()
                logs = docker('logs', '--tail', '5', name, check=False)
                raise RuntimeError('%s: systemd is %r after 90 s (container %s; %s; last log lines: %s)'
                                   % (name, state, status, proc.stderr.strip(),
                                      (logs.stdout + logs.stderr).strip().replace('\n', ' | ')))
            time.sleep(0.3)

    items = [(lab, vm) for lab in labs for vm in VMS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run_container, items))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(wait_systemd, items))


def write_inventory(labs, directory):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, 'roster.csv'), 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['student', 'domain', 'vm1', 'vm2', 'vm3', 'lab_subnet'])
        for lab in labs:
            writer.writerow([lab['student'], lab['domain'], lab['vm1'], lab['vm2'], lab['vm3'], lab['subnet']])
    shutil.copyfile(ROSTER_TEMPLATE, os.path.join(directory, 'roster.yml'))
    return os.path.join(directory, 'roster.yml')


# ------------------------------------------------------------------ the controller's memory
class MemorySampler(threading.Thread):
    """Samples the memory of a process and all its descendants (forks, docker CLI calls).

    rss: the sum of the processes' resident set sizes, sampled every 0.25 s (shared pages of the
    forked workers are counted once per process, so this over-states what the run needs);
    pss: the sum of their proportional set sizes (shared pages divided among the processes
    sharing them), sampled every second.
    """

    def __init__(self, pid):
        super(MemorySampler, self).__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.peak_single_rss = 0
        self.samples = 0

    def _tree(self):
        children = {}
        for name in os.listdir('/proc'):
            if not name.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % name) as handle:
                    stat = handle.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(')') + 2:].split()[1])
            children.setdefault(ppid, []).append(int(name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    @staticmethod
    def _rss(pid):
        try:
            with open('/proc/%d/statm' % pid) as handle:
                return int(handle.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            return 0

    @staticmethod
    def _pss(pid):
        try:
            with open('/proc/%d/smaps_rollup' % pid) as handle:
                for line in handle:
                    if line.startswith('Pss:'):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def run(self):
        tick = 0
        while not self.stop.is_set():
            tree = self._tree()
            sizes = [self._rss(pid) for pid in tree]
            self.peak_rss = max(self.peak_rss, sum(sizes))
            self.peak_single_rss = max([self.peak_single_rss] + sizes)
            self.peak_processes = max(self.peak_processes, len(tree))
            if tick % 4 == 0:
                self.peak_pss = max(self.peak_pss, sum(self._pss(pid) for pid in tree))
            tick += 1
            self.samples += 1
            self.stop.wait(0.25)

    def result(self):
        mib = 1024.0 * 1024.0
        return {'peak_rss_sum_mib': round(self.peak_rss / mib, 1), 'peak_pss_sum_mib': round(self.peak_pss / mib, 1),
                'peak_single_rss_mib': round(self.peak_single_rss / mib, 1), 'peak_processes': self.peak_processes,
                'samples': self.samples}


# ------------------------------------------------------------------ one ansible-playbook run
class Runner(object):
    def __init__(self, phase):
        self.phase = phase
        self.logs = os.path.join(OUT, 'logs', phase)
        os.makedirs(self.logs, exist_ok=True)
        self.count = 0
        real_docker = shutil.which('docker')
        if not real_docker:
            die('the docker CLI is not on PATH')
        self.env = dict(os.environ)
        self.env.update({
            'PATH': os.path.join(HERE, 'bin') + os.pathsep + os.environ.get('PATH', ''),
            'BENCH_REAL_DOCKER': real_docker,
            'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, 'build', 'collections'),
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'ansible.posix.profile_tasks,bench_recorder',
            'ANSIBLE_PIPELINING': 'true',
            'ANSIBLE_INTERPRETER_PYTHON': 'auto_silent',
            'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': 'true',
            'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            'ANSIBLE_FORCE_COLOR': 'false',
            'ANSIBLE_NOCOLOR': 'true',
            'ANSIBLE_DEPRECATION_WARNINGS': 'false',
            'PROFILE_TASKS_TASK_OUTPUT_LIMIT': '200',
        })

    def run(self, label, playbook, inventory, limit=None, forks=5, check=False, extra_vars=None,
            memory=False, expect_rc=(0,), env_extra=None):
        self.count += 1
        slug = '%02d-%s' % (self.count, ''.join(c if c.isalnum() else '-' for c in label).strip('-'))
        record = os.path.join(self.logs, slug + '.record.json')
        execs = os.path.join(self.logs, slug + '.execs.log')
        logfile = os.path.join(self.logs, slug + '.log')
        for path in (record, execs):
            if os.path.exists(path):
                os.unlink(path)
        cmd = ['ansible-playbook', '-i', inventory, '-f', str(forks), playbook]
        if limit:
            cmd += ['--limit', limit]
        if check:
            cmd += ['--check']
        for key, value in sorted((extra_vars or {}).items()):
            cmd += ['-e', '%s=%s' % (key, value)]
        env = dict(self.env, BENCH_RECORD=record, BENCH_EXEC_LOG=execs, **(env_extra or {}))
        with open(logfile, 'w') as out:
            out.write('# %s\n' % ' '.join(cmd))
            out.flush()
            cpu_before = machine_cpu()
            usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.time()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            sampler = None
            if memory:
                sampler = MemorySampler(proc.pid)
                sampler.start()
            rc = proc.wait()
            wall = time.time() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_after = machine_cpu()
            if sampler:
                sampler.stop.set()
                sampler.join()
        if rc not in expect_rc:
            tail = open(logfile).read().splitlines()[-40:]
            die('%s: ansible-playbook exited with %d (log %s):\n%s' % (label, rc, logfile, '\n'.join(tail)))
        result = analyse(record, execs, start, wall)
        result.update({'label': label, 'playbook': playbook, 'limit': limit, 'forks': forks, 'check': check,
                       'rc': rc, 'log': os.path.relpath(logfile, ROOT)})
        # CPU: the controller (ansible-playbook, its workers and the docker CLI calls they made)
        # against the whole machine (that and the lab containers, dockerd, containerd)
        controller = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
        busy = cpu_after - cpu_before
        result['cpu'] = {'controller_seconds': round(controller, 1), 'machine_seconds': round(busy, 1),
                         'other_seconds': round(max(busy - controller, 0.0), 1),
                         'machine_utilisation': round(busy / (wall * CORES), 2) if wall else None}
        if sampler:
            result['memory'] = sampler.result()
        log('  %-34s %6.1f s wall (%5.1f s of tasks)  changed %3d  tasks/host %s  CPU ctl %.0f s / all %.0f s%s'
            % (label, wall, result['play_seconds'], result['changed'], per_vm(result['tasks_per_host']),
               result['cpu']['controller_seconds'], result['cpu']['machine_seconds'],
               memory_note(result.get('memory'))))
        return result


def memory_note(memory):
    if not memory:
        return ''
    return '  peak RSS sum %.0f MiB, PSS %.0f MiB' % (memory['peak_rss_sum_mib'], memory['peak_pss_sum_mib'])


def machine_cpu():
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open('/proc/stat') as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / float(os.sysconf('SC_CLK_TCK'))


def vm_of(host):
    return host.rsplit('-', 1)[-1] if '-' in host else host


def per_vm(mapping):
    """'vm1/vm2/vm3' values of a per-host mapping of one lab (the first lab's hosts)."""
    by_vm = {}
    for host in sorted(mapping):
        by_vm.setdefault(vm_of(host), mapping[host])
    return '/'.join(str(by_vm.get(vm, '-')) for vm in VMS)


def analyse(record_path, exec_path, start, wall):
    """Tasks, changes, round trips per host and role, and the slowest tasks of one run."""
    try:
        with open(record_path) as handle:
            doc = json.load(handle)
    except (OSError, ValueError):
        doc = {'records': [], 'stats': {}, 'first_task': None, 'end': start + wall, 'playbook_start': start}
    records = doc['records']
    hosts = sorted(set(r['host'] for r in records))

    # docker exec calls: (time, container), attributed to the task whose window holds them
    calls = []
    if os.path.exists(exec_path):
        with open(exec_path) as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 3 and parts[1] == 'exec' and parts[2].startswith(CONTAINER_PREFIX):
                    calls.append((float(parts[0]), parts[2][len(CONTAINER_PREFIX):]))
    windows = {}
    for index, rec in enumerate(records):
        target = rec['delegated_to'] if rec['delegated_to'] and rec['on_host'] else rec['host']
        windows.setdefault(target, []).append((rec['start'], rec['end'], index))
    # a delegation by template (delegate_to: "{{ item.client }}") names no host in the record:
    # calls to a host with no task window of its own go to such a task running at that moment
    floating = [(rec['start'], rec['end'], index) for index, rec in enumerate(records)
                if rec['on_host'] and rec['delegated_to'] and rec['delegated_to'] not in hosts]
    execs = [0] * len(records)
    unattributed = 0
    for when, host in calls:
        for begin, end, index in windows.get(host, []) + floating:
            if begin - 0.001 <= when <= end + 0.001:
                execs[index] += 1
                break
        else:
            unattributed += 1

    tasks_per_host = dict((h, 0) for h in hosts)
    changed_per_host = dict((h, 0) for h in hosts)
    on_host_per_host = dict((h, 0) for h in hosts)
    execs_per_host = dict((h, 0) for h in hosts)
    roles = {}
    by_task = {}
    for index, rec in enumerate(records):
        host = rec['host']
        ran = rec['status'] != 'skipped'
        if ran:
            tasks_per_host[host] += 1
        if rec['changed']:
            changed_per_host[host] += 1
        trips = rec['runs'] if rec['on_host'] else 0
        on_host_per_host[host] += trips
        role = rec['role'] or '(play: %s)' % ('facts' if rec['action'] == 'gather_facts' else 'tasks')
        slot = roles.setdefault(host, {}).setdefault(role, {'tasks': 0, 'on_host': 0, 'execs': 0, 'changed': 0,
                                                            'seconds': 0.0, 'on_host_tasks': []})
        slot['tasks'] += 1 if ran else 0
        slot['on_host'] += trips
        slot['execs'] += execs[index]
        slot['changed'] += 1 if rec['changed'] else 0
        slot['seconds'] += rec['end'] - rec['start']
        if trips:
            slot['on_host_tasks'].append({'task': rec['task'], 'action': rec['action'], 'runs': trips,
                                          'execs': execs[index], 'changed': rec['changed'],
                                          'seconds': round(rec['end'] - rec['start'], 2)})
        key = rec['task']
        entry = by_task.setdefault(key, {'task': key, 'action': rec['action'], 'hosts': 0, 'seconds': 0.0,
                                         'max_seconds': 0.0})
        if ran:
            entry['hosts'] += 1
            entry['seconds'] += rec['end'] - rec['start']
            entry['max_seconds'] = max(entry['max_seconds'], rec['end'] - rec['start'])
    for _when, host in calls:
        execs_per_host[host] = execs_per_host.get(host, 0) + 1
    for host_roles in roles.values():
        for slot in host_roles.values():
            slot['seconds'] = round(slot['seconds'], 2)
    slowest = sorted(by_task.values(), key=lambda e: -e['max_seconds'])[:12]
    for entry in slowest:
        entry['seconds'] = round(entry['seconds'], 2)
        entry['max_seconds'] = round(entry['max_seconds'], 2)
    first = doc.get('first_task') or start
    play_seconds = (doc.get('end') or start + wall) - first
    return {
        'time_by_kind': time_by_kind(records, play_seconds),
        'wall_seconds': round(wall, 2),
        'startup_seconds': round(first - start, 2),
        'play_seconds': round((doc.get('end') or start + wall) - first, 2),
        'hosts': hosts,
        'tasks_per_host': tasks_per_host,
        'changed_per_host': changed_per_host,
        'changed': sum(changed_per_host.values()),
        'on_host_per_host': on_host_per_host,
        'execs_per_host': execs_per_host,
        'execs_total': len(calls),
        'execs_unattributed': unattributed,
        'roles': roles,
        'slowest_tasks': slowest,
        'stats': doc.get('stats', {}),
    }


def time_by_kind(records, play_seconds):
    """Where the run's time goes. With the linear strategy a task ends when its slowest host is done,
    so the run is the sequence of its tasks: each task's span (first host queued to last result) is
    put under facts (fact gathering), on-host (a module ran on some host), controller (only
    controller-side actions ran: assert, set_fact, include_vars, ...) or skipped (every host
    skipped it); between: the rest (strategy, forking, callbacks between tasks)."""
    spans = []
    for rec in records:
        key = (rec['play'], rec['task'], rec['handler'])
        if spans and spans[-1]['key'] == key:
            span = spans[-1]
            span['start'] = min(span['start'], rec['start'])
            span['end'] = max(span['end'], rec['end'])
        else:
            span = {'key': key, 'start': rec['start'], 'end': rec['end'], 'facts': rec['action'] == 'gather_facts',
                    'on_host': False, 'ran': False}
            spans.append(span)
        if rec['status'] != 'skipped':
            span['ran'] = True
            span['on_host'] = span['on_host'] or rec['on_host']
    kinds = dict((kind, {'tasks': 0, 'seconds': 0.0}) for kind in ('facts', 'on_host', 'controller', 'skipped'))
    for span in spans:
        kind = ('facts' if span['facts'] else 'on_host' if span['on_host'] else 'controller' if span['ran']
                else 'skipped')
        kinds[kind]['tasks'] += 1
        kinds[kind]['seconds'] += span['end'] - span['start']
    for value in kinds.values():
        value['seconds'] = round(value['seconds'], 2)
    kinds['between'] = {'tasks': 0, 'seconds': round(max(play_seconds - sum(v['seconds'] for v in kinds.values()), 0), 2)}
    return kinds


def summarise(runs):
    """Median wall and task time of repeated runs, with the counts of the first run."""
    first = runs[0]
    return {
        'runs': len(runs),
        'wall_median': round(statistics.median(r['wall_seconds'] for r in runs), 2),
        'wall_all': [r['wall_seconds'] for r in runs],
        'play_median': round(statistics.median(r['play_seconds'] for r in runs), 2),
        'startup_median': round(statistics.median(r['startup_seconds'] for r in runs), 2),
        'changed_median': statistics.median(r['changed'] for r in runs),
        'changed_all': [r['changed'] for r in runs],
        'tasks_per_host': first['tasks_per_host'],
        'on_host_per_host': first['on_host_per_host'],
        'execs_per_host': first['execs_per_host'],
        'detail': runs,
    }


# ------------------------------------------------------------------ phases
def image_ref():
    image = os.environ.get('LAB_IMAGE')
    if not image:
        try:
            with open(os.path.join(ROOT, 'build', '.lab-image')) as handle:
                image = handle.read().strip()
        except OSError:
            image = ''
    if not image:
        die('no lab image: run `make images` (it writes build/.lab-image) or set LAB_IMAGE')
    if docker('image', 'inspect', image, check=False).returncode != 0:
        die('the lab image %s does not exist: run `make images`' % image)
    return image


def with_labs(phase, count, body):
    """Create ``count`` labs, run ``body(labs, inventory, runner)``, always remove them."""
    image = image_ref()
    log('%s: removing lab leftovers (scripts/lab-cleanup.sh)' % phase)
    cleanup_leftovers()
    check_pool()
    labs = lab_plan(count)
    inventory = write_inventory(labs, os.path.join(OUT, phase, 'inventory'))
    try:
        log('%s: starting %d lab(s) = %d containers of %s' % (phase, count, 3 * count, image))
        ensure_inotify(3 * count + 8)
        begin = time.time()
        start_labs(labs, image)
        started = time.time() - begin
        log('%s: containers up and systemd running in %.1f s' % (phase, started))
        result = body(labs, inventory, Runner(phase))
        result['containers_start_seconds'] = round(started, 2)
        result['image'] = image
        return result
    finally:
        log('%s: removing its containers and networks' % phase)
        remove_own()


def docker_exec(container, script):
    docker('exec', container, 'sh', '-c', script)


def phase_single():
    playbooks = os.path.join(ROOT, 'playbooks')
    handwritten = os.path.join(HERE, 'handwritten_investigation1.yml')
    saved = '/root/main.cf.bench-baseline'

    def body(labs, inventory, runner):
        res = {'phase': 'single', 'repeat': REPEAT, 'labs': [lab['student'] for lab in labs]}
        fresh = labs[:REPEAT]
        hw_lab, our_lab = labs[REPEAT], labs[REPEAT + 1]
        log('single: the baseline (lab.yml) on all %d labs at once' % len(labs))
        res['baseline'] = runner.run('lab.yml baseline, %d labs' % len(labs), os.path.join(playbooks, 'lab.yml'),
                                     inventory, forks=3 * len(labs))
        for lab in (hw_lab, our_lab):
            docker_exec(lab['vm3_container'], 'cp -p /etc/postfix/main.cf %s' % saved)

        group = 'lab_%s'
        log('single: site.yml fresh from the baseline, one lab at a time (%s)'
            % ', '.join(lab['student'] for lab in fresh))
        res['site_fresh'] = summarise([
            runner.run('site.yml fresh %s' % lab['student'], os.path.join(playbooks, 'site.yml'), inventory,
                       limit=group % lab['student'], forks=3)
            for lab in fresh])
        one = group % fresh[0]['student']
        res['exec_floor'] = exec_floor(fresh[0]['vm3_container'])
        log('single: one docker exec round trip on %s: %.3f s (true), %.3f s (python3 -c pass), median of %d'
            % (fresh[0]['student'], res['exec_floor']['true'], res['exec_floor']['python3'], res['exec_floor']['samples']))
        log('single: site.yml re-run, --check and verify.yml on %s, %d times each' % (fresh[0]['student'], REPEAT))
        res['site_rerun'] = summarise([
            runner.run('site.yml re-run #%d' % (i + 1), os.path.join(playbooks, 'site.yml'), inventory,
                       limit=one, forks=3) for i in range(REPEAT)])
        res['site_check'] = summarise([
            runner.run('site.yml --check #%d' % (i + 1), os.path.join(playbooks, 'site.yml'), inventory,
                       limit=one, forks=3, check=True) for i in range(REPEAT)])
        res['verify'] = summarise([
            runner.run('verify.yml #%d' % (i + 1), os.path.join(playbooks, 'verify.yml'), inventory,
                       limit=one, forks=3,
                       extra_vars={'verify_report_dir': os.path.join(OUT, 'single', 'verify-%d' % (i + 1)),
                                   'verify_fail_on_error': 'false'}) for i in range(REPEAT)])
        res['verify_report'] = verify_summary(os.path.join(OUT, 'single', 'verify-1'))

        log('single: Investigation 1, hand-written (%s) against investigation1.yml (%s), interleaved'
            % (hw_lab['student'], our_lab['student']))
        hw_fresh, our_fresh, hw_rerun, our_rerun = [], [], [], []
        restore = 'cp -p %s /etc/postfix/main.cf && postfix reload >/dev/null 2>&1' % saved
        for i in range(REPEAT):
            docker_exec(hw_lab['vm3_container'], restore)
            hw_fresh.append(runner.run('hand-written fresh #%d' % (i + 1), handwritten, inventory,
                                       limit=group % hw_lab['student'], forks=3))
            docker_exec(our_lab['vm3_container'], restore)
            our_fresh.append(runner.run('investigation1.yml fresh #%d' % (i + 1),
                                        os.path.join(playbooks, 'investigation1.yml'), inventory,
                                        limit=group % our_lab['student'], forks=3))
        for i in range(REPEAT):
            hw_rerun.append(runner.run('hand-written re-run #%d' % (i + 1), handwritten, inventory,
                                       limit=group % hw_lab['student'], forks=3))
            our_rerun.append(runner.run('investigation1.yml re-run #%d' % (i + 1),
                                        os.path.join(playbooks, 'investigation1.yml'), inventory,
                                        limit=group % our_lab['student'], forks=3))
        # The same re-runs with two settings a user can make without touching the roles: facts cached
        # between runs (gathering=smart, jsonfile cache) and the interpreter given (no discovery).
        tuned_env = {'ANSIBLE_GATHERING': 'smart', 'ANSIBLE_CACHE_PLUGIN': 'ansible.builtin.jsonfile',
                     'ANSIBLE_CACHE_PLUGIN_CONNECTION': os.path.join(OUT, 'single', 'facts'),
                     'ANSIBLE_CACHE_PLUGIN_TIMEOUT': '86400'}
        tuned_vars = {'ansible_python_interpreter': '/usr/bin/python3'}
        runner.run('investigation1.yml warm the fact cache', os.path.join(playbooks, 'investigation1.yml'), inventory,
                   limit=group % our_lab['student'], forks=3, env_extra=tuned_env, extra_vars=tuned_vars)
        hw_tuned, our_tuned = [], []
        for i in range(REPEAT):
            hw_tuned.append(runner.run('hand-written re-run tuned #%d' % (i + 1), handwritten, inventory,
                                       limit=group % hw_lab['student'], forks=3, env_extra=tuned_env,
                                       extra_vars=tuned_vars))
            our_tuned.append(runner.run('investigation1.yml re-run tuned #%d' % (i + 1),
                                        os.path.join(playbooks, 'investigation1.yml'), inventory,
                                        limit=group % our_lab['student'], forks=3, env_extra=tuned_env,
                                        extra_vars=tuned_vars))
        res['handwritten_rerun_tuned'] = summarise(hw_tuned)
        res['inv1_rerun_tuned'] = summarise(our_tuned)
        res['handwritten_fresh'] = summarise(hw_fresh)
        res['inv1_fresh'] = summarise(our_fresh)
        res['handwritten_rerun'] = summarise(hw_rerun)
        res['inv1_rerun'] = summarise(our_rerun)
        res['main_cf_equal'] = main_cf_equal(hw_lab, our_lab)
        return res

    return with_labs('single', REPEAT + 2, body)


def exec_floor(container, samples=15):
    """What one round trip costs at least: `docker exec` of a no-op, and of a Python start (every module)."""
    result = {'samples': samples}
    for name, argv in (('true', ['true']), ('python3', ['python3', '-c', 'pass'])):
        times = []
        cpu_before = machine_cpu()
        for _i in range(samples):
            begin = time.time()
            docker('exec', '-i', container, *argv)
            times.append(time.time() - begin)
        result[name] = round(statistics.median(times), 3)
        # CPU of the whole machine per call: docker CLI, dockerd, containerd, runc, the command
        result[name + '_cpu'] = round((machine_cpu() - cpu_before) / samples, 3)
    return result


def main_cf_equal(left, right):
    """Whether both labs' Postfix ended with the same Investigation 1 settings (each lab's subnet as LAB_SUBNET)."""
    names = ['mynetworks', 'smtpd_helo_required', 'smtpd_helo_restrictions', 'smtpd_delay_reject',
             'smtpd_client_restrictions', 'smtpd_sender_restrictions', 'smtpd_recipient_restrictions',
             'smtpd_relay_restrictions']
    values = []
    for lab in (left, right):
        out = docker('exec', lab['vm3_container'], 'postconf', *names).stdout.replace(lab['subnet'], 'LAB_SUBNET')
        values.append(dict(line.split(' = ', 1) for line in out.splitlines() if ' = ' in line))
    differ = sorted(name for name in names if values[0].get(name) != values[1].get(name))
    return {'equal': not differ, 'differ': dict((n, [values[0].get(n), values[1].get(n)]) for n in differ)}


def verify_summary(directory):
    try:
        with open(os.path.join(directory, 'report.json')) as handle:
            report = json.load(handle)
    except (OSError, ValueError):
        return None
    return {'result': report.get('result'), 'labs_total': report.get('labs_total'), 'totals': report.get('totals')}


def phase_class(count):
    playbooks = os.path.join(ROOT, 'playbooks')
    phase = 'class-%d' % count

    def body(labs, inventory, runner):
        forks = 3 * count
        res = {'phase': phase, 'labs': count, 'hosts': 3 * count, 'forks': forks}
        log('%s: site.yml on %d lab(s) from fresh containers, forks %d' % (phase, count, forks))
        res['site'] = runner.run('site.yml %d lab(s)' % count, os.path.join(playbooks, 'site.yml'), inventory,
                                 forks=forks, memory=True)
        if count in RERUN_SIZES:
            res['rerun'] = runner.run('site.yml re-run %d lab(s)' % count, os.path.join(playbooks, 'site.yml'),
                                      inventory, forks=forks, memory=True)
        if count in VERIFY_SIZES:
            runs = [runner.run('verify.yml %d lab(s) #%d' % (count, i + 1), os.path.join(playbooks, 'verify.yml'),
                               inventory, forks=forks, memory=True,
                               extra_vars={'verify_report_dir': os.path.join(OUT, phase, 'verify-%d' % (i + 1)),
                                           'verify_fail_on_error': 'false'}) for i in range(REPEAT)]
            # the run with the median wall time stands for all (its memory and CPU figures too)
            median = sorted(runs, key=lambda r: r['wall_seconds'])[len(runs) // 2]
            res['verify'] = dict(median, wall_all=[r['wall_seconds'] for r in runs])
            res['verify_report'] = verify_summary(os.path.join(OUT, phase, 'verify-1'))
        return res

    return with_labs(phase, count, body)


# ------------------------------------------------------------------ the report
def fmt(value, digits=1):
    return '-' if value is None else ('%.*f' % (digits, value))


def report():
    results = {'generated': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'repeat': REPEAT, 'machine': machine()}
    single = read_json(os.path.join(OUT, 'single.json'))
    classes = []
    for count in sorted(CLASS_SIZES):
        data = read_json(os.path.join(OUT, 'class-%d.json' % count))
        if data:
            classes.append(data)
    results['single'] = single
    results['class'] = classes
    lines = []
    out = lines.append
    out('')
    out('=' * 100)
    out('make bench: what a converge costs (%s; %s)' % (results['generated'], results['machine']))
    out('=' * 100)
    targets = []
    if single:
        out('')
        out('ONE LAB (vm1 vm2 vm3), median of %d runs; per host: vm1/vm2/vm3' % single['repeat'])
        out('%-30s %8s %8s %8s  %-12s %-12s %-12s %s'
            % ('run', 'wall s', 'tasks s', 'start s', 'tasks/host', 'on-host', 'docker exec', 'changed'))
        rows = [('site.yml fresh (from lab.yml)', 'site_fresh'), ('site.yml re-run', 'site_rerun'),
                ('site.yml --check', 'site_check'), ('verify.yml', 'verify'),
                ('hand-written inv. 1 fresh', 'handwritten_fresh'), ('investigation1.yml fresh', 'inv1_fresh'),
                ('hand-written inv. 1 re-run', 'handwritten_rerun'), ('investigation1.yml re-run', 'inv1_rerun')]
        if 'inv1_rerun_tuned' in single:
            rows += [('hand-written re-run tuned (1)', 'handwritten_rerun_tuned'),
                     ('inv. 1 re-run, tuned (1)', 'inv1_rerun_tuned')]
        for title, key in rows:
            s = single[key]
            out('%-30s %8s %8s %8s  %-12s %-12s %-12s %s' % (
                title, fmt(s['wall_median']), fmt(s['play_median']), fmt(s['startup_median']),
                per_vm(s['tasks_per_host']), per_vm(s['on_host_per_host']), per_vm(s['execs_per_host']),
                '/'.join(str(c) for c in s['changed_all'])))
        out('(wall: the whole ansible-playbook process; tasks: first task to the end; start: Python, '
            'inventory and playbook loading. Investigation 1 rows: vm3 only. (1): gathering=smart with a jsonfile '
            'fact cache and ansible_python_interpreter set - settings, not role changes)')
        out('all walls: ' + '; '.join('%s %s' % (key, s_list(single[key]['wall_all'])) for _t, key in rows))
        out('')
        out('WHERE THE TIME GOES (one run; seconds of the task sequence: a task lasts until its slowest host is done)')
        out('%-30s %14s %14s %14s %14s %8s' % ('run', 'facts', 'on-host', 'controller', 'skipped', 'between'))
        for title, key in rows[:3] + rows[6:]:
            kinds = single[key]['detail'][0].get('time_by_kind')
            if not kinds:
                continue
            out('%-30s %s %8s' % (title, ' '.join('%5.1f s (%3d)' % (kinds[k]['seconds'], kinds[k]['tasks'])
                                                  for k in ('facts', 'on_host', 'controller', 'skipped')),
                                  '%.1f s' % kinds['between']['seconds']))
        out('(in brackets: tasks. facts: fact gathering; on-host: tasks that ran a module on a host; controller: '
            'tasks that ran on the controller only; skipped: tasks every host skipped; between: strategy and '
            'callbacks between tasks)')
        floor = single.get('exec_floor')
        if floor:
            values = (floor['true'], floor.get('true_cpu', 0), floor['python3'], floor.get('python3_cpu', 0), floor['samples'])
            out('one round trip, at least: docker exec of a no-op %.3f s (%.3f s of CPU), of python3 -c pass %.3f s '
                '(%.3f s of CPU); median of %d' % values)
        eq = single.get('main_cf_equal') or {}
        out('hand-written and investigation1.yml leave the same main.cf settings: %s%s'
            % ('yes' if eq.get('equal') else 'NO', '' if eq.get('equal') else ' %s' % eq.get('differ')))
        vr = single.get('verify_report')
        if vr:
            out('verify.yml on the converged lab: %s, %s' % (vr.get('result'), vr.get('totals')))

        ratio = single['inv1_rerun']['wall_median'] / single['handwritten_rerun']['wall_median']
        play_ratio = single['inv1_rerun']['play_median'] / max(single['handwritten_rerun']['play_median'], 0.01)
        targets.append({'target': 'Investigation 1 re-run <= %.1f x hand-written re-run (wall)' % TARGET_INV1_RATIO,
                        'value': round(ratio, 2), 'met': ratio <= TARGET_INV1_RATIO,
                        'note': 'ours %.1f s, hand-written %.1f s; tasks only: %.2f x (%.1f s vs %.1f s)'
                                % (single['inv1_rerun']['wall_median'], single['handwritten_rerun']['wall_median'],
                                   play_ratio, single['inv1_rerun']['play_median'],
                                   single['handwritten_rerun']['play_median'])})
        if 'inv1_rerun_tuned' in single:
            tuned = single['inv1_rerun_tuned']['wall_median'] / single['handwritten_rerun_tuned']['wall_median']
            targets[-1]['note'] += '; both with facts cached and the interpreter set: %.2f x (%.1f s vs %.1f s)' % (
                tuned, single['inv1_rerun_tuned']['wall_median'], single['handwritten_rerun_tuned']['wall_median'])

        rerun = single['site_rerun']['detail'][0]
        out('')
        out('ROUND TRIPS on the site.yml re-run (no change), per host and role (target: <= %d on-host tasks)'
            % TARGET_ROUND_TRIPS)
        out('%-6s %-22s %6s %8s %6s %8s  %s' % ('host', 'role', 'tasks', 'on-host', 'exec', 'seconds', 'on-host tasks'))
        worst = []
        for host in sorted(rerun['roles']):
            for role, slot in sorted(rerun['roles'][host].items(), key=lambda kv: kv[0]):
                if not slot['tasks'] and not slot['execs']:
                    continue
                names = ', '.join('%s%s' % (t['task'].split(' : ', 1)[-1], ' x%d' % t['runs'] if t['runs'] > 1 else '')
                                  for t in slot['on_host_tasks'])
                out('%-6s %-22s %6d %8d %6d %8.1f  %s'
                    % (vm_of(host), short_role(role), slot['tasks'], slot['on_host'], slot['execs'], slot['seconds'],
                       names[:150]))
                if not role.startswith('('):
                    worst.append((slot['on_host'], vm_of(host), short_role(role)))
        if worst:
            top = max(worst)
            over = [w for w in worst if w[0] > TARGET_ROUND_TRIPS]
            targets.append({'target': 'site.yml re-run: <= %d round trips per host per role' % TARGET_ROUND_TRIPS,
                            'value': top[0], 'met': not over,
                            'note': 'worst %s %s; over the target: %s' % (
                                top[1], top[2], ', '.join('%s %s %d' % (h, r, n) for n, h, r in sorted(over, reverse=True))
                                or 'none')})
        out('')
        out('SLOWEST TASKS of the site.yml re-run (ansible.posix.profile_tasks has the full list in the log)')
        for entry in rerun['slowest_tasks'][:8]:
            out('  %6.2f s  %-14s %s' % (entry['max_seconds'], entry['action'], entry['task']))

    if classes:
        out('')
        out('A CLASS: site.yml on N labs from fresh containers in one run (forks 3 per lab)')
        out('%5s %6s %6s %8s %11s %7s %11s %9s %9s %13s %5s %9s %9s' % (
            'labs', 'hosts', 'forks', 'start s', 'converge s', 's/lab', 'marginal s', 'RSS sum', 'PSS sum',
            'CPU ctl/all s', 'busy', 're-run s', 'verify s'))
        base = None
        prev = None
        for data in classes:
            site = data['site']
            wall = site['wall_seconds']
            if base is None:
                base = (data['labs'], wall)
            marginal = None if prev is None else (wall - prev[1]) / (data['labs'] - prev[0])
            cpu = site.get('cpu') or {}
            out('%5d %6d %6d %8s %11s %7s %11s %8sM %8sM %13s %5s %9s %9s' % (
                data['labs'], data['hosts'], data['forks'], fmt(data['containers_start_seconds']), fmt(wall),
                fmt(wall / data['labs']), fmt(marginal), fmt(site['memory']['peak_rss_sum_mib'], 0),
                fmt(site['memory']['peak_pss_sum_mib'], 0),
                '%s/%s' % (fmt(cpu.get('controller_seconds'), 0), fmt(cpu.get('machine_seconds'), 0)),
                '%d%%' % (100 * cpu['machine_utilisation']) if cpu.get('machine_utilisation') is not None else '-',
                fmt(data['rerun']['wall_seconds']) if 'rerun' in data else '-',
                fmt(data['verify']['wall_seconds']) if 'verify' in data else '-'))
            prev = (data['labs'], wall)
        for data in classes:
            cpu = data['site'].get('cpu') or {}
            if cpu:
                out('  %2d labs: controller CPU %.0f s (%.1f s per lab), the rest of the machine %.0f s (%.1f s per lab); '
                    'the controller alone needs >= %.0f s of wall time on %d cores'
                    % (data['labs'], cpu['controller_seconds'], cpu['controller_seconds'] / data['labs'],
                       cpu['other_seconds'], cpu['other_seconds'] / data['labs'], cpu['controller_seconds'] / CORES, CORES))
        verified = [d for d in classes if d.get('verify')]
        if verified:
            out('')
            out('VERIFY: verify.yml on N labs (every check of each lab: vm1/vm2 over the network, the other clients '
                'tried on the mail host, DNS from vm1); median of %d runs' % REPEAT)
            out('%5s %8s %9s %14s %14s %18s %s' % ('labs', 'wall s', 'wall/lab', 'CPU ctl/lab s', 'CPU labs/lab s',
                                                   'docker execs/host', 'checks (pass/fail/not run)'))
            for data in verified:
                verify = data['verify']
                cpu = verify.get('cpu') or {}
                totals = (data.get('verify_report') or {}).get('totals') or {}
                out('%5d %8s %9s %14s %14s %18s %s' % (
                    data['labs'], fmt(verify['wall_seconds']), fmt(verify['wall_seconds'] / data['labs']),
                    fmt(cpu.get('controller_seconds', 0) / data['labs']),
                    fmt(cpu.get('other_seconds', 0) / data['labs']), per_vm(verify.get('execs_per_host') or {}),
                    '%s/%s/%s of %s' % (totals.get('pass'), totals.get('fail'), totals.get('not run'),
                                        totals.get('total'))))
            out('(CPU ctl/lab: the controller - ansible-playbook, its workers, the docker CLI - per lab; CPU labs/lab: the '
                'rest of the machine during the run - the lab containers, dockerd - per lab; docker execs: round trips to vm1/vm2/vm3 '
                'of the first lab, one per module run with pipelining)')
            results['verify'] = [{'labs': d['labs'], 'wall_seconds': d['verify']['wall_seconds'],
                                  'controller_cpu_seconds_per_lab': round((d['verify'].get('cpu') or {}).get(
                                      'controller_seconds', 0) / d['labs'], 2),
                                  'lab_cpu_seconds_per_lab': round((d['verify'].get('cpu') or {}).get(
                                      'other_seconds', 0) / d['labs'], 2),
                                  'totals': (d.get('verify_report') or {}).get('totals')} for d in verified]
        if len(classes) > 1:
            xs = [d['labs'] for d in classes]
            ys = [d['site']['wall_seconds'] for d in classes]
            slope = linear_slope(xs, ys)
            out('marginal cost of one more lab (least squares over %s labs): %.1f s' % (xs, slope))
            results['class_marginal_seconds'] = round(slope, 2)
        by_count = dict((d['labs'], d) for d in classes)
        if 1 in by_count and 10 in by_count:
            ratio = by_count[10]['site']['wall_seconds'] / by_count[1]['site']['wall_seconds']
            targets.append({'target': '10 labs converge <= %.0f x one lab' % TARGET_CLASS_RATIO, 'value': round(ratio, 2),
                            'met': ratio <= TARGET_CLASS_RATIO,
                            'note': '%.1f s vs %.1f s' % (by_count[10]['site']['wall_seconds'],
                                                          by_count[1]['site']['wall_seconds'])})
            if 'rerun' in by_count[1] and 'rerun' in by_count[10]:
                r1 = by_count[1]['rerun']['wall_seconds']
                r10 = by_count[10]['rerun']['wall_seconds']
                results['class_rerun_ratio'] = round(r10 / r1, 2)
                out('site.yml re-run (nothing to change), 10 labs / 1 lab: %.1f s / %.1f s = %.2f x' % (r10, r1, r10 / r1))
            if 'verify' in by_count[1] and 'verify' in by_count[10]:
                v1 = by_count[1]['verify']['wall_seconds']
                v10 = by_count[10]['verify']['wall_seconds']
                targets.append({'target': 'verify.yml 10 labs < %.0f x one lab' % TARGET_VERIFY_RATIO,
                                'value': round(v10 / v1, 2), 'met': v10 / v1 < TARGET_VERIFY_RATIO,
                                'note': '%.1f s vs %.1f s (medians of %s and %s); reports: %s / %s' % (
                                    v10, v1, s_list(by_count[10]['verify'].get('wall_all') or [v10]),
                                    s_list(by_count[1]['verify'].get('wall_all') or [v1]),
                                    (by_count[10].get('verify_report') or {}).get('totals'),
                                    (by_count[1].get('verify_report') or {}).get('totals'))})
        out('(RSS sum: ansible-playbook and all its descendants, shared pages counted per process; PSS sum: '
            'the same with shared pages divided - what the run really holds. CPU ctl/all: CPU seconds of the '
            'controller (ansible-playbook, workers, docker CLI) / of the whole machine during the run (with the '
            'lab containers); busy: the machine\'s CPU use over the run, %d cores.)' % CORES)
        for data in classes:
            slow = data['site']['slowest_tasks'][:3]
            out('  %2d labs, slowest tasks (longest on one host): %s' % (data['labs'], '; '.join(
                '%s %.1f s' % (e['task'], e['max_seconds']) for e in slow)))

    if targets:
        out('')
        out('TARGETS (measured in this run)')
        for t in targets:
            out('  %-4s %-62s %-6s %s' % ('MET' if t['met'] else 'MISS', t['target'], t['value'], t['note']))
    results['targets'] = targets
    out('')
    text = '\n'.join(lines)
    print(text)
    with open(os.path.join(OUT, 'results.json'), 'w') as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    with open(os.path.join(OUT, 'results.txt'), 'w') as handle:
        handle.write(text + '\n')
    print('results: %s, %s' % (os.path.relpath(os.path.join(OUT, 'results.json'), ROOT),
                               os.path.relpath(os.path.join(OUT, 'results.txt'), ROOT)))


def short_role(role):
    return role.split('.')[-1] if role.startswith('ops535.mail_security.') else role


def s_list(values):
    return '[' + ', '.join('%.1f' % v for v in values) + ']'


def linear_slope(xs, ys):
    mean_x = sum(xs) / float(len(xs))
    mean_y = sum(ys) / float(len(ys))
    den = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / den if den else 0.0


def machine():
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        with open('/proc/meminfo') as handle:
            mem = int(handle.readline().split()[1]) // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        mem = 0
    return '%d cores, %d GiB' % (cores, mem)


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_json(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), 'w') as handle:
        json.dump(data, handle, indent=2, sort_keys=True)


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv):
    signal.signal(signal.SIGTERM, _terminate)
    if not argv or argv[0] not in ('single', 'class', 'report', 'cleanup'):
        die('usage: bench.py single | class N | report | cleanup')
    os.makedirs(OUT, exist_ok=True)
    if argv[0] == 'single':
        write_json('single.json', phase_single())
    elif argv[0] == 'class':
        count = int(argv[1])
        write_json('class-%d.json' % count, phase_class(count))
    elif argv[0] == 'cleanup':
        remove_own()
    else:
        report()


if __name__ == '__main__':
    main(sys.argv[1:])
