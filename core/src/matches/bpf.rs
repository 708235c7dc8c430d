//! `-m bpf`: a classic BPF program run on the packet (`libxt_bpf`, the kernel's `xt_bpf.c`). chainwalk
//! cannot run the program on its packets, so the module stays unmodelled (kept as written, assumed to
//! match); its `--bytecode` is checked as `bpf_parse_string` in `libxt_bpf` reads it.

use crate::diag::Diagnostic;
use crate::ext::Opt;

/// The longest program the kernel takes (`XT_BPF_MAX_NUM_INSTR`).
const MAX_INSTRUCTIONS: usize = 64;

/// Reads an unsigned number as `sscanf`'s `%u` family does: blanks, an optional sign, decimal digits
/// (wrapping like C's conversion); returns it and the rest, or `None` without digits.
fn scan_number(text: &str) -> Option<(u64, &str)> {
    let t = text.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n = t[..digits].bytes().fold(0u64, |n, d| n.wrapping_mul(10).wrapping_add(u64::from(d - b'0')));
    Some((if neg { n.wrapping_neg() } else { n }, &t[digits..]))
}

/// Reads `--bytecode "N,CODE JT JF K,..."`: the length, then exactly that many instructions of four
/// numbers, as `libxt_bpf` parses them before the kernel checks the program itself. Returns the program
/// as `iptables-save` prints it.
fn check_bytecode(text: &str) -> Result<String, String> {
    let (len, rest) = scan_number(text).ok_or("the program must start with its length and a comma")?;
    if !rest.starts_with(',') {
        return Err("the program must start with its length and a comma".into());
    }
    let len = (len & 0xFFFF) as usize;
    if len == 0 {
        return Err("a program of length 0 is refused".into());
    }
    if len > MAX_INSTRUCTIONS {
        return Err(format!("a program has at most {MAX_INSTRUCTIONS} instructions"));
    }
    let mut count = 0;
    let mut printed = len.to_string();
    let mut at = text.find(',');
    while let Some(comma) = at {
        let token = &text[comma + 1..];
        if token.is_empty() {
            break;
        }
        if count >= len {
            return Err(format!("the program has more instructions than its length, {len}"));
        }
        let mut t = token;
        let mut fields = [0u64; 4];
        for field in &mut fields {
            let Some((n, rest)) = scan_number(t) else {
                return Err(format!("instruction {count} is not four numbers (CODE JT JF K)"));
            };
            *field = n;
            t = rest;
        }
        let [code, jt, jf, k] = fields;
        printed += &format!(",{} {} {} {}", code as u16, jt as u8, jf as u8, k as u32);
        count += 1;
        at = token.find(',').map(|p| comma + 1 + p);
    }
    if count != len {
        return Err(format!("the program has fewer instructions ({count}) than its length, {len}"));
    }
    Ok(printed)
}

/// Checks the options of a bpf match that chainwalk keeps verbatim, and writes its program as
/// `iptables-save` prints it.
pub(crate) fn check(opts: &[Opt<'_>], kept: &mut crate::verbatim::Verbatim) -> Result<(), Diagnostic> {
    for (o, raw) in opts.iter().zip(&mut kept.opts).filter(|(o, _)| o.name == "bytecode") {
        let printed = o.parse_arg(|t| check_bytecode(t).map_err(|e| format!("bpf: {e}")))?;
        raw.args = vec![printed];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_bytecode;

    #[test]
    fn bytecode_is_read_as_libxt_bpf_reads_it() {
        assert!(check_bytecode("4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0").is_ok());
        assert!(check_bytecode("1,6 0 0 1").is_ok());
        assert_eq!(check_bytecode("1, 6 0 0 1,").as_deref(), Ok("1,6 0 0 1"));
        assert!(check_bytecode("x").is_err());
        assert!(check_bytecode("0,").is_err());
        assert!(check_bytecode("2,6 0 0 1").is_err());
        assert!(check_bytecode("1,6 0 0 1,6 0 0 1").is_err());
        assert!(check_bytecode("1,6 0 0").is_err());
        assert!(check_bytecode("65,6 0 0 1").is_err());
    }
}
