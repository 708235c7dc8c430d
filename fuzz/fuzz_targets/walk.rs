//! Any rules, host and packet (the input's three parts, split at lines of `---`): the readers and the walk
//! must not panic, whatever they are given; a packet that reads prints back, in either style, to text that
//! reads as the same packet; a host that reads goes through the page's host table and back unchanged.

#![no_main]

use chainwalk_core::packet_text::{self, Style};
use chainwalk_core::render;
use chainwalk_core::walk::{Backend, Simulation, WalkOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, "\n---\n");
    let (rules, host, packet) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let table = chainwalk_core::host_text::HostTable::read(host);
    assert_eq!(table.write(), host, "the host table does not write back its text");
    let host = chainwalk_core::host::parse(host).ok();
    let Ok(pkt) = chainwalk_core::packet::parse(packet.lines().next().unwrap_or("")) else { return };
    for style in [Style::Short, Style::Log] {
        let written = packet_text::write(&pkt, style);
        let again = chainwalk_core::packet::parse(&written);
        assert_eq!(again.as_ref().ok(), Some(&pkt), "{written}");
    }
    let parsed = chainwalk_core::parse(rules, None);
    let sim = Simulation::new(&parsed.ruleset);
    for backend in [Backend::Legacy, Backend::Nft] {
        let trace = sim.walk(host.as_ref(), &pkt, &WalkOptions { backend, now: Some(1_700_000_000), ..WalkOptions::default() });
        let _ = render::log::legacy(&trace);
        let _ = render::log::nft(&trace, parsed.ruleset.family);
        let _ = render::text::walk(&trace, render::text::Style::default());
    }
});
