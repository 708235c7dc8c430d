//! Benchmark tooling for chainwalk: generators of large, realistic `iptables-save` dumps ([`gen`]) and a
//! heap counter ([`heap`]) that the `chainwalk-bench` binary installs as its global allocator to measure
//! how much memory reading a dump takes.

pub mod gen;
pub mod heap;
