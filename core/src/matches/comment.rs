//! `-m comment --comment TEXT`: a note on the rule that matches every packet (`libxt_comment`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_string, Args, ExtCtx, Extension, Opt, OptSpec};
use serde::{Deserialize, Serialize};

/// The longest comment the kernel stores (`XT_MAX_COMMENT_LEN` - 1).
pub const MAX_LEN: usize = 255;

/// The comment's text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// The text, unquoted.
    pub text: Box<str>,
}

impl Extension for Comment {
    const OPTIONS: &'static [OptSpec] = &[opt("comment", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Comment, Diagnostic> {
        let o = find(opts, "comment")?.ok_or_else(|| ctx.error("the comment match needs `--comment TEXT`"))?;
        o.no_negation()?;
        let mut text = o.arg();
        if text.len() > MAX_LEN {
            // iptables keeps the first 255 bytes without a word.
            let mut cut = MAX_LEN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text = &text[..cut];
            warnings.push(Diagnostic::warning(
                o.arg_span(),
                format!("this comment is {} bytes long; iptables keeps only the first {MAX_LEN}", o.arg().len()),
            ));
        }
        Ok(Comment { text: text.into() })
    }

    fn save(&self, out: &mut String) {
        save_opt_string(out, false, "comment", &self.text);
    }
}

impl crate::walk::eval::Evaluate for Comment {
    fn eval(&self, _ctx: &crate::walk::eval::EvalCtx<'_>) -> crate::walk::eval::Outcome {
        crate::walk::eval::Outcome::yes("a comment matches every packet")
    }
}
