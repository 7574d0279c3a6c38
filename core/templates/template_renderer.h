// Evaluates a loaded template (template_group.h) against attributes, as ST4 does: names
// resolve in the innermost template's parameters and iteration variables first, then in
// its callers' (dynamic scope), then in the attributes; a missing name is empty; a value
// starting its line indents every further line it spans. Thread-safe (no shared state).
#pragma once

#include <string>

#include "bus/status.h"
#include "core/templates/template_group.h"
#include "core/templates/template_value.h"

namespace hub::templates {

// Templates may call each other (and themselves) at most this deep.
inline constexpr int kMaxCallDepth = 100;

// What a render may write, counting the text of every nesting level: a few lines that
// call each other twice over would otherwise take all the memory there is.
inline constexpr size_t kMaxRenderedBytes = 64 * 1024 * 1024;

// Fails only when the calls go deeper than kMaxCallDepth or the text written passes
// kMaxRenderedBytes ("FILE:LINE:COL: ...").
// REQUIRES: check_template(t) succeeded.
Result<std::string> render_template(const TemplateFile& t, const ValuePtr& attributes);

}  // namespace hub::templates
