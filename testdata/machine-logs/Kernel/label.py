#!/usr/bin/env python3
"""Ground-truth labeller for Kernel.log (the kernel ring buffer, `dmesg`).

Writes Kernel.log_structured_corrected.csv and Kernel.log_templates_corrected.csv beside this
file.  Every Content must match exactly one rule below, and every rule must match a line;
otherwise the script stops without writing anything.

A rule is T(template) or T(template, regex).  The template is the Loghub-2.0 truth template;
the regex (full match on Content) picks its lines.  Without a regex, the template itself is the
regex (constants literal, whitespace runs as \\s+, <*> as .+?).  Constants versus variables follow
the kernel's format strings: every conversion (%d, %s, %pR, ...) is a variable, written where its
text appears; a token that holds a variable (0x%x, %luK, CPU%d, v%.2d) is one <*>.

    python3 label.py
"""
FORMAT = r"\[<Time>\] <Content>"

# The shared machinery lives in ../common.py.
import os as _os
import sys as _sys

_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".."))
from common import *  # noqa: E402,F401,F403

HEX = r"0x[0-9a-fA-F]+"
ZONE = r"(?:DMA|DMA32|Normal|HighMem|Movable|Device)"
MEM = rf"\[mem ({HEX})-({HEX})\]"

RULES = [
    # --- boot banner, command line -------------------------------------------------------------
    # linux_banner: "Linux version " UTS_RELEASE " (" LINUX_COMPILE_BY "@" LINUX_COMPILE_HOST ") ("
    # LINUX_COMPILER ") " UTS_VERSION
    T("Linux version <*> (<*>@<*>) (<*>) <*>", r"Linux version (\S+) \((\S+)@(\S+)\) \((.+)\) (#.+)"),
    T("Command line: <*>", r"Command line: (.+)"),
    T("Kernel command line: <*>", r"Kernel command line: (.+)"),
    # --- e820 / memory map -------------------------------------------------------------------------
    T("BIOS-provided physical RAM map:"),
    T("BIOS-e820: [mem <*>-<*>] <*>", rf"BIOS-e820: {MEM} (usable|reserved|ACPI data|ACPI NVS|unusable|persistent \(type \d+\)|type \d+)"),
    T("e820: update [mem <*>-<*>] <*> ==> <*>", rf"e820: update {MEM} (\w+) ==> (\w+)"),
    T("e820: remove [mem <*>-<*>] <*>", rf"e820: remove {MEM} (\w+)"),
    T("e820: reserve RAM buffer [mem <*>-<*>]", rf"e820: reserve RAM buffer {MEM}"),
    T("last_pfn = <*> max_arch_pfn = <*>", rf"last_pfn = ({HEX}) max_arch_pfn = ({HEX})"),
    T("MTRR map: <*> entries (<*> fixed + <*> variable; max <*>), built from <*> variable MTRRs"),
    # "x86/PAT: Configuration [0-7]: %s": the 0-7 are digits (DG), the PAT string is one %s
    T("x86/PAT: Configuration [<*>-<*>]: <*>", r"x86/PAT: Configuration \[0-7\]: (.+)"),
    T("Using GB pages for direct mapping"),
    T("RAMDISK: [mem <*>-<*>]", rf"RAMDISK: {MEM}"),
    T("No NUMA configuration found"),
    T("Faking a node at [mem <*>-<*>]", rf"Faking a node at {MEM}"),
    T("NODE_DATA(<*>) allocated [mem <*>-<*>]", rf"NODE_DATA\((\d+)\) allocated {MEM}"),
    T("Zone ranges:"),
    # "  %-8s " zone name, then "[mem %#018Lx-%#018Lx]" or "empty"
    T("<*> [mem <*>-<*>]", rf"({ZONE})\s+{MEM}"),
    T("<*> empty", rf"({ZONE})\s+empty"),
    T("Movable zone start for each node"),
    T("Early memory node ranges"),
    T("node <*>: [mem <*>-<*>]", rf"node\s+(\d+): {MEM}"),
    T("Initmem setup node <*> [mem <*>-<*>]", rf"Initmem setup node (\d+) {MEM}"),
    T("On node <*>, zone <*>: <*> pages in unavailable ranges"),
    T("[mem <*>-<*>] available for PCI devices", rf"{MEM} available for PCI devices"),
    # free_reserved_area(): "Freeing %s memory: %ldK" (SMP alternatives, initrd, unused kernel image (...))
    T("Freeing <*> memory: <*>", r"Freeing (.+) memory: (\d+K)"),
    T("Memory: <*>/<*> available (<*> kernel code, <*> rwdata, <*> rodata, <*> init, <*> bss, <*> reserved, <*> cma-reserved)"),
    T("Write protecting the kernel read-only data: <*>", r"Write protecting the kernel read-only data: (\d+k)"),
    T("mem auto-init: stack:<*>, heap alloc:<*>, heap free:<*>"),
    T("Built <*> zonelists, mobility grouping <*>. Total pages: <*>"),
    T("Fallback order for Node <*>: <*>", r"Fallback order for Node (\d+): ([\d ]+)"),
    T("Policy zone: <*>"),
    T("Demotion targets for Node <*>: <*>", r"Demotion targets for Node (\d+): (null|.+)"),
    T("x86/mm: Memory block size: <*>", r"x86/mm: Memory block size: (\d+MB)"),
    T("HugeTLB: registered <*> page size, pre-allocated <*> pages"),
    T("HugeTLB: <*> KiB vmemmap can be freed for a <*> page"),
    T("deferred_init=lazy: <*> pages left to deferred_grow_zone()"),
    T("page_reporting: free-page bitmap set aside: bytes=<*> pfns=<*> alloc_us=<*>"),
    T("page_reporting_drain_all: err=<*>"),
    T("Free page reporting enabled"),
    T("workingset: timestamp_bits=<*> max_order=<*> bucket_order=<*>"),
    # alloc_large_system_hash(): "%s hash table entries: %ld (order: %d, %lu bytes, %s)"
    T("<*> hash table entries: <*> (order: <*>, <*> bytes, <*>)",
      r"(.+) hash table entries: (\d+) \(order: (\d+), (\d+) bytes, (linear|vmalloc)\)"),
    T("futex hash table entries: <*> (<*> bytes on <*> NUMA nodes, total <*> KiB, <*>)."),
    T("VFS: Dquot-cache hash table entries: <*> (order <*>, <*> bytes)"),
    T("TCP: Hash tables configured (established <*> bind <*>)"),
    # --- ACPI -------------------------------------------------------------------------------------
    T("ACPI: Early table checksum verification disabled"),
    # RSDP: "%-4.4s 0x%8.8X%8.8X %06X (v%.2d %-6.6s)" with the constant ACPI_SIG_RSDP
    T("ACPI: RSDP <*> <*> (<*> <*>)", rf"ACPI: RSDP ({HEX}) ([0-9A-F]{{6}}) \(v(\d\d) (\S+)\s*\)"),
    # other tables: "%-4.4s 0x%8.8X%8.8X %06X (v%.2d %-6.6s %-8.8s %08X %-4.4s %08X)"
    T("ACPI: <*> <*> <*> (<*> <*> <*> <*> <*> <*>)",
      rf"ACPI: ([A-Z0-9]{{4}}) ({HEX}) ([0-9A-F]{{6}}) \(v(\d\d) (\S+)\s+(\S+)\s+([0-9A-F]{{8}}) (\S+)\s+([0-9A-F]{{8}})\)"),
    T("ACPI: Reserving <*> table memory at [mem <*>-<*>]", rf"ACPI: Reserving ([A-Z0-9]{{4}}) table memory at {MEM}"),
    T("ACPI: Using ACPI (MADT) for SMP configuration information"),
    T("ACPI: Core revision <*>"),
    T("ACPI: Added _OSI(<*>)"),
    T("ACPI: <*> ACPI AML tables successfully acquired and loaded"),
    T("ACPI: Interpreter enabled"),
    T("ACPI: PM: (supports <*>)"),
    T("ACPI: Using <*> for interrupt routing"),
    T("ACPI: PCI <*> Bridge [<*>] (domain <*> [<*>])", r"ACPI: PCI Root Bridge \[(\w+)\] \(domain ([0-9a-f]{4}) \[(bus [0-9a-f-]+)\]\)"),
    T("acpi <*>: _OSC: OS supports [<*>]", r"acpi (\S+): _OSC: OS supports \[(.+)\]"),
    T("acpi <*>: PCIe port services disabled; not requesting _OSC control"),
    T("acpi <*>: _OSC: platform retains control of PCIe features (<*>)"),
    T("IOAPIC[<*>]: apic_id <*>, version <*>, address <*>, GSI <*>-<*>"),
    # --- CPU, APIC, clocks ------------------------------------------------------------------------
    T("NX (Execute Disable) protection: active"),
    T("APIC: Static calls initialized"),
    T("DMI not present or invalid."),
    T("Hypervisor detected: <*>"),
    T("kvm-clock: Using msrs <*> and <*>"),
    T("kvm-clock: using sched offset of <*> cycles"),
    # "%s: mask: 0x%llx max_cycles: 0x%llx, max_idle_ns: %lld ns"
    T("clocksource: <*>: mask: <*> max_cycles: <*>, max_idle_ns: <*> ns"),
    T("clocksource: Switched to clocksource <*>"),
    T("tsc: Detected <*> MHz processor"),
    T("TSC deadline timer available"),
    T("CPU topo: Max. logical packages: <*>"),
    T("CPU topo: Max. logical dies: <*>"),
    T("CPU topo: Max. dies per package: <*>"),
    T("CPU topo: Max. threads per core: <*>"),
    T("CPU topo: Num. cores per package: <*>"),
    T("CPU topo: Num. threads per package: <*>"),
    T("CPU topo: Allowing <*> present CPUs plus <*> hotplug CPUs"),
    # apic_update_callback(): "APIC: %s() replaced with %ps()"
    T("kvm-guest: APIC: <*>() replaced with <*>()", r"kvm-guest: APIC: (\w+)\(\) replaced with (\w+)\(\)"),
    T("kvm-guest: KVM setup pv remote TLB flush"),
    T("kvm-guest: setup PV sched yield"),
    T("kvm-guest: PV spinlocks enabled"),
    T("kvm-guest: setup PV IPIs"),
    T("Booting paravirtualized kernel on <*>"),
    T("APIC: Switch to symmetric I/O mode setup"),
    T("x2apic enabled"),
    T("APIC: Switched APIC routing to: <*>"),
    T("Calibrating delay loop (skipped) preset value.. <*> BogoMIPS (lpj=<*>)"),
    T("x86/cpu: User Mode Instruction Prevention (UMIP) activated"),
    T("Last level iTLB entries: 4KB <*>, 2MB <*>, 4MB <*>"),
    T("Last level dTLB entries: 4KB <*>, 2MB <*>, 4MB <*>, 1GB <*>"),
    # "Enabled attack vectors: " then "%s, " per enabled vector (a list: one <*>), then "SMT mitigations: %s"
    T("mitigations: Enabled attack vectors: <*>, SMT mitigations: <*>", r"mitigations: Enabled attack vectors: (\w+(?:, \w+)*), SMT mitigations: (\w+)"),
    # pr_info("%s\n", <mitigation string>) with the pr_fmt prefix
    T("Speculative Store Bypass: <*>"),
    T("Spectre V2 : <*>", r"Spectre V2 : ((?:Mitigation|Vulnerable).*)"),
    T("Spectre V2 : Spectre v2 / SpectreRSB: Filling RSB on context switch and VMEXIT"),
    T("RETBleed: <*>"),
    T("ITS: <*>"),
    T("Spectre V1 : <*>"),
    T("active return thunk: <*>"),
    T("x86/fpu: Supporting XSAVE feature <*>: '<*>'"),
    T("x86/fpu: xstate_offset[<*>]: <*>, xstate_sizes[<*>]: <*>"),
    T("x86/fpu: Enabled xstate features <*>, context size is <*> bytes, using '<*>' format."),
    T("smpboot: <*>: <*> (family: <*>, model: <*>, stepping: <*>)", r"smpboot: (CPU\d+): (.+) \(family: (0x[0-9a-f]+), model: (0x[0-9a-f]+), stepping: (0x[0-9a-f]+)\)"),
    T("Performance Events: unsupported CPU family <*> model <*> no PMU driver, software events only."),
    T("signal: max sigframe size: <*>"),
    T("pvm-pv: not detected, <*>/<*> sites patched"),
    T("smp: Bringing up secondary CPUs ..."),
    T("smpboot: x86: Booting SMP configuration:"),
    # ".... node %*s#%d, CPUs:  " then "%*s#%d" per CPU (a list: one <*>)
    T(".... node #<*>, CPUs: <*>", r"\.\.\.\. node\s+#(\d+), CPUs:\s+(#\d+(?:\s+#\d+)*)"),
    T("smp: Brought up <*> node, <*> CPUs"),
    T("smpboot: Total of <*> processors activated (<*> BogoMIPS)"),
    T("NMI watchdog: Perf NMI watchdog permanently disabled"),
    T("sched_clock: Marking stable (<*>, <*>)->(<*>, <*>)"),
    T("IPI shorthand broadcast: <*>"),
    T("intel_pstate: CPU model not supported"),
    T("cpuidle: using governor <*>"),
    T("Timer migration: <*> hierarchy levels; <*> children per group; <*> crossnode level"),
    T("pid_max: default: <*> minimum: <*>"),
    # --- per-cpu, RCU, scheduler ------------------------------------------------------------------
    T("setup_percpu: NR_CPUS:<*> nr_cpumask_bits:<*> nr_cpu_ids:<*> nr_node_ids:<*>"),
    T("percpu: Embedded <*> pages/cpu <*> <*> <*> <*>", r"percpu: Embedded (\d+) pages/cpu (s\d+) (r\d+) (d\d+) (u\d+)"),
    T("pcpu-alloc: <*> <*> <*> <*> alloc=<*>", r"pcpu-alloc: (s\d+) (r\d+) (d\d+) (u\d+) alloc=(\d+\*\d+)"),
    # "[%0*d] " group, then "%0*d " per CPU (a list: one <*>)
    T("pcpu-alloc: [<*>] <*>", r"pcpu-alloc: \[(\d+)\] ([\d ]+)"),
    T("Dynamic Preempt: <*>"),
    T("rcu: Preemptible hierarchical RCU implementation."),
    T("rcu: RCU restricting CPUs from NR_CPUS=<*> to nr_cpu_ids=<*>."),
    T("Trampoline variant of Tasks RCU enabled."),
    T("Rude variant of Tasks RCU enabled."),
    T("Tracing variant of Tasks RCU enabled."),
    T("rcu: RCU calculated value of scheduler-enlistment delay is <*> jiffies."),
    T("rcu: Adjusting geometry for rcu_fanout_leaf=<*>, nr_cpu_ids=<*>"),
    # "%s: Setting shift to %d and lim to %d rcu_task_cb_adjust=%d rcu_task_cpu_ids=%d." (rtp->name)
    T("<*>: Setting shift to <*> and lim to <*> rcu_task_cb_adjust=<*> rcu_task_cpu_ids=<*>."),
    T("rcu: srcu_init: Setting srcu_struct sizes based on contention."),
    T("rcu: Hierarchical SRCU implementation."),
    T("rcu: Max phase no-delay instances is <*>."),
    T("NR_IRQS: <*>, nr_irqs: <*>, preallocated irqs: <*>"),
    T("ftrace: allocating <*> entries in <*> pages"),
    T("ftrace: allocated <*> pages with <*> groups"),
    T("SLUB: HWalign=<*>, Order=<*>-<*>, MinObjects=<*>, CPUs=<*>, Nodes=<*>"),
    # --- console, printk, random ------------------------------------------------------------------
    # "Console: %s %s %dx%d" (colour/mono, display description, cols x rows)
    T("Console: <*> <*> <*>", r"Console: (colour|mono) (.+) (\d+x\d+)"),
    # "%s%sconsole [%s%d] enabled" ("legacy "/"", "boot"/"")
    T("printk: <*> console [<*>] enabled", r"printk: (legacy|) ?console \[(\w+)\] enabled"),
    T("printk: log buffer data + meta data: <*> + <*> = <*> bytes"),
    T("random: crng init done"),
    T("random: crng reseeded due to virtual machine fork"),
    T("Kernel is locked down from <*>; see man kernel_lockdown.<*>", r"Kernel is locked down from (.+); see man kernel_lockdown\.7"),
    # --- security, audit --------------------------------------------------------------------------
    T("LSM: initializing lsm=<*>"),
    T("landlock: Up and running."),
    T("LSM support for eBPF active"),
    T("audit: initializing netlink subsys (<*>)"),
    T("audit: type=<*> audit(<*>:<*>): state=initialized audit_enabled=<*> res=<*>"),
    T("Initialise system trusted keyrings"),
    T("Key type <*> registered"),
    T("Asymmetric key parser '<*>' registered"),
    # the X.509 is constant text; DG makes its digits <*>
    T("Loading compiled-in X.<*> certificates", r"Loading compiled-in X\.509 certificates"),
    T("NetLabel: Initializing"),
    T("NetLabel: domain hash size = <*>"),
    T("NetLabel: protocols = UNLABELED CIPSOv4 CALIPSO"),
    T("NetLabel: unlabeled traffic allowed by default"),
    # --- PCI, devices -----------------------------------------------------------------------------
    # "ECAM %pR (base %#lx) for domain %04x [bus %02x-%02x]"; %pR prints "[mem 0x..-0x..]"
    T("PCI: ECAM [<*>] (base <*>) for domain <*> [bus <*>-<*>]", rf"PCI: ECAM \[(mem {HEX}-{HEX})\] \(base ({HEX})\) for domain ([0-9a-f]+) \[bus ([0-9a-f]+)-([0-9a-f]+)\]"),
    T("PCI: ECAM [<*>] reserved as <*>", rf"PCI: ECAM \[(mem {HEX}-{HEX})\] reserved as (.+)"),
    T("PCI: Using configuration type <*> for base access"),
    T("PCI: Using host bridge windows from ACPI; if necessary, use \"pci=nocrs\" and report a bug"),
    T("PCI: Using E820 reservations for host bridge windows"),
    T("PCI host bridge to bus <*>"),
    # "root bus resource %pR%s%s" ("root" is a variable by the Loghub-2.0 US rule)
    T("pci_bus <*>: <*> bus resource [<*>]", r"pci_bus ([0-9a-f]{4}:[0-9a-f]{2}): root bus resource \[(.+)\]"),
    T("pci_bus <*>: resource <*> [<*>]", r"pci_bus ([0-9a-f]{4}:[0-9a-f]{2}): resource (\d+) \[(.+)\]"),
    # "[%04x:%04x] type %02x class %#08x %s"
    T("pci <*>: [<*>:<*>] type <*> class <*> <*>", r"pci (\S+): \[([0-9a-f]{4}):([0-9a-f]{4})\] type ([0-9a-f]{2}) class (0x[0-9a-f]{6}) (.+)"),
    # "%s %pR" with the resource name "BAR %d"
    T("pci <*>: BAR <*> [<*>]", r"pci (\S+): BAR (\d+) \[(.+)\]"),
    T("PCI: Using ACPI for IRQ routing"),
    T("PCI: pci_cache_line_size set to <*> bytes"),
    T("PCI: CLS <*> bytes, default <*>"),
    T("PCI-DMA: Using software bounce buffering for IO (SWIOTLB)"),
    T("software IO TLB: No low mem"),
    T("virtio-pci <*>: enabling device (<*> -> <*>)"),
    T("virtio_blk <*>: <*>/<*>/<*> default/read/poll queues", r"virtio_blk (\w+): (\d+)/(\d+)/(\d+) default/read/poll queues"),
    # "[%s] %s%llu %d-byte logical blocks (%s/%s)"; the %s is "new size: " on a resize, which
    # with the following %llu makes one variable
    T("virtio_blk <*>: [<*>] <*> <*>-byte logical blocks (<*>/<*>)",
      r"virtio_blk (\w+): \[(\w+)\] ((?:new size: )?\d+) (\d+)-byte logical blocks \((\d+ [KMGT]B)/(\d+ [KMGT]iB)\)"),
    T("iommu: Default domain type: <*>"),
    T("iommu: DMA domain TLB invalidation policy: <*> mode"),
    T("pps_core: LinuxPPS API ver. <*> registered"),
    T("pps_core: Software ver. <*> - Copyright <*>-<*> Rodolfo Giometti <giometti@linux.it>"),
    T("PTP clock support registered"),
    T("vgaarb: loaded"),
    T("pnp: PnP ACPI init"),
    T("pnp: PnP ACPI: found <*> devices"),
    T("platform <*>: registered platform RTC device (no PNP device found)"),
    T("Serial: 8250/16550 driver, <*> ports, IRQ sharing <*>"),
    # "%s%s%s at %s (irq = %d, base_baud = %d) is a %s" (device, ": ", port name, address, ...)
    T("<*>: <*> at <*> (irq = <*>, base_baud = <*>) is a <*>", r"(\S+): (\w+) at (I/O 0x[0-9a-f]+|MMIO 0x[0-9a-f]+) \(irq = (\d+), base_baud = (\d+)\) is a (\S+)"),
    T("loop: module loaded"),
    T("zram: Added device: <*>"),
    T("tun: Universal TUN/TAP device driver, <*>"),
    T("hid: raw HID events driver (C) Jiri Kosina"),
    T("Block layer SCSI generic (bsg) driver version <*> loaded (major <*>)"),
    T("io scheduler <*> registered"),
    T("clk: Disabling unused clocks"),
    T("kvm-pvm: mmio caching disabled (nested host: reported MAXPHYADDR <*> may be narrower than the page walk)"),
    T("kvm: host DEBUGCTL refresh per vcpu_load (vendor request)"),
    T("kvm-pvm: loaded (native=<*> pcid=<*> pge_off=<*> emul_batch=<*> emul_ibpb=<*>)"),
    # --- networking -------------------------------------------------------------------------------
    T("NET: Registered <*> protocol family"),
    T("Mirror/redirect action on"),
    T("u32 classifier"),
    T("input device check on"),
    T("Actions configured"),
    T("xt_time: kernel timezone is <*>", r"xt_time: kernel timezone is ([+-]\d{4})"),
    T("Initializing XFRM netlink socket"),
    T("Segment Routing with IPv6"),
    T("In-situ OAM (IOAM) with IPv6"),
    T("Bridge firewalling registered"),
    # --- file systems, misc subsystems -------------------------------------------------------------
    T("devtmpfs: initialized"),
    T("thermal_sys: Registered thermal governor '<*>'"),
    T("raid6: skipped pq benchmark and selected <*>"),
    T("raid6: using <*> recovery algorithm"),
    T("xor: automatically using best checksumming function <*>", r"xor: automatically using best checksumming function\s+(\S+)"),
    T("VFS: Disk quotas <*>"),
    T("Unpacking initramfs..."),
    # pr_info("version 4.0 (2009/01/31) Phillip Lougher"): version and date as variables
    T("squashfs: version <*> (<*>) Phillip Lougher", r"squashfs: version ([\d.]+) \(([\d/]+)\) Phillip Lougher"),
    T("fuse: init (API version <*>)"),
    T("SGI XFS with ACLs, security attributes, no debug enabled"),
    T("Btrfs loaded, zoned=<*>, fsverity=<*>"),
    T("registered taskstats version <*>"),
    # "mounted filesystem %pU %s with%s. Quota mode: %s." (uuid, ro|r/w, " ordered data mode"|"out journal"...)
    T("EXT4-fs (<*>): mounted filesystem <*> <*> <*>. Quota mode: <*>.", r"EXT4-fs \((\w+)\): mounted filesystem ([0-9a-f-]{36}) (ro|r/w) (with.*?)\. Quota mode: (\w+)\."),
    # --- init process -----------------------------------------------------------------------------
    T("Run <*> as init process"),
    T("with arguments:"),
    T("with environment:"),
    # "    %s" once per argv / envp entry: the whole line is the value
    T("<*>", r"\S+"),
    # "%s (%d): drop_caches: %d" (comm, pid, mode)
    T("<*> (<*>): drop_caches: <*>", r"(\S+) \((\d+)\): drop_caches: (\d+)"),
]


if __name__ == "__main__":
    main("Kernel", FORMAT, RULES)
