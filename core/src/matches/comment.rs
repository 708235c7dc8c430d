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
    pub text: String,
}

impl Extension for Comment {
    const OPTIONS: &'static [OptSpec] = &[opt("comment", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Comment, Diagnostic> {
        let o = find(opts, "comment")?.ok_or_else(|| ctx.error("the comment match needs `--comment TEXT`"))?;
        o.no_negation()?;
        if o.arg().len() > MAX_LEN {
            return Err(
                o.bad_arg(format!("a comment may be at most {MAX_LEN} bytes long; this one is {}", o.arg().len()))
            );
        }
        Ok(Comment { text: o.arg().to_string() })
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
