#include "core/templates/template_check.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "core/templates/template_renderer.h"

namespace hub::templates {

bool is_builtin(const std::string& name) {
  static const char* const kBuiltins[] = {"first",  "last",   "rest", "trunc", "reverse",
                                          "length", "strlen", "trim", "strip"};
  return std::any_of(std::begin(kBuiltins), std::end(kBuiltins),
                     [&](const char* b) { return name == b; });
}

namespace {

class Checker {
 public:
  Checker(const TemplateFile& t, const Value& attributes) : t_(t), attributes_(attributes) {}

  Result<std::vector<std::string>> run() {
    file_ = &t_.main.file;
    elements(t_.main.body, {});
    if (error_) return *error_;
    return std::vector<std::string>(undefined_.begin(), undefined_.end());
  }

 private:
  using Locals = std::set<std::string>;

  void fail(Position at, const std::string& what) {
    if (!error_)
      error_ = Status::error(*file_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.col) +
                             ": " + what);
  }

  void elements(const Elements& body, const Locals& locals) {
    for (const Element& e : body) {
      if (error_) return;
      if (e.kind == Element::Kind::kExpr) {
        expr(*e.expr, locals);
        if (e.separator) expr(*e.separator, locals);
        if (e.null_value) expr(*e.null_value, locals);
      } else if (e.kind == Element::Kind::kIf) {
        for (const Branch& b : e.branches) {
          if (b.condition) condition(*b.condition, locals);
          elements(b.body, locals);
        }
      }
    }
  }

  void condition(const Condition& c, const Locals& locals) {
    if (c.expr) expr(*c.expr, locals);
    if (c.left) condition(*c.left, locals);
    if (c.right) condition(*c.right, locals);
  }

  // An attribute path (a, a.b, a.b.c): reported unless it starts with a local name or
  // every step of it is in the attributes. An indirect step (.(x)) ends what is checked.
  void path(const Expr& e, const Locals& locals) {
    std::vector<const Expr*> chain;
    const Expr* at = &e;
    while (at->kind == Expr::Kind::kProperty || at->kind == Expr::Kind::kIndirect) {
      chain.push_back(at);
      at = at->base.get();
    }
    for (const Expr* step : chain)
      if (step->kind == Expr::Kind::kIndirect) expr(*step->index, locals);
    if (at->kind != Expr::Kind::kAttribute) {
      expr(*at, locals);
      return;
    }
    if (locals.count(at->name)) return;
    std::string name = at->name;
    const Value* v = attributes_.find(name);
    bool missing = v == nullptr;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      if ((*it)->kind == Expr::Kind::kIndirect) break;
      name += "." + (*it)->name;
      if (!missing) {
        v = v->kind == Value::Kind::kMap ? v->find((*it)->name) : nullptr;
        missing = v == nullptr;
      }
    }
    if (missing) undefined_.insert(name);
  }

  void expr(const Expr& e, const Locals& locals) {
    if (error_) return;
    switch (e.kind) {
      case Expr::Kind::kAttribute:
      case Expr::Kind::kProperty:
      case Expr::Kind::kIndirect:
        path(e, locals);
        return;
      case Expr::Kind::kString:
      case Expr::Kind::kBool:
        return;
      case Expr::Kind::kSubtemplate:
        sub(*e.sub, locals, false);
        return;
      case Expr::Kind::kCall:
        call(e, locals, 0);
        return;
      case Expr::Kind::kMap:
        expr(*e.base, locals);
        for (const auto& target : e.args) {
          if (target->kind == Expr::Kind::kSubtemplate)
            sub(*target->sub, locals, true);
          else
            call(*target, locals, 1);
        }
        return;
    }
  }

  void sub(const Subtemplate& s, Locals locals, bool iterated) {
    if (s.params.empty()) locals.insert("it");
    locals.insert(s.params.begin(), s.params.end());
    if (iterated) locals.insert({"i", "i0"});
    elements(s.body, locals);
  }

  // A call with IMPLICIT arguments before its own (1: the element of an iteration).
  void call(const Expr& e, const Locals& locals, size_t implicit) {
    for (const auto& a : e.args) expr(*a, locals);
    if (error_) return;
    const size_t given = e.args.size() + implicit;
    if (is_builtin(e.name)) {
      if (given != 1) fail(e.pos, e.name + "() takes 1 argument, given " + std::to_string(given));
      return;
    }
    const auto found = t_.group.find(e.name);
    if (found == t_.group.end()) {
      fail(e.pos, "no template " + e.name +
                      "(): expected one defined in an imported group (import \"NAME.stg\") or a "
                      "built-in (first, last, rest, trunc, reverse, length, strlen, trim, strip)");
      return;
    }
    const NamedTemplate& t = *found->second;
    if (given > t.params.size()) {
      fail(e.pos, e.name + "() takes " + std::to_string(t.params.size()) + " argument" +
                      (t.params.size() == 1 ? "" : "s") + ", given " + std::to_string(given));
      return;
    }
    for (size_t k = 0; k < e.arg_names.size(); ++k) {
      const std::string& n = e.arg_names[k];
      if (!n.empty() && std::find(t.params.begin(), t.params.end(), n) == t.params.end()) {
        fail(e.args[k]->pos, e.name + "() has no parameter " + n);
        return;
      }
    }
    // The callee sees its parameters and, by dynamic scope, its callers' names.
    Locals inner = locals;
    inner.insert(t.params.begin(), t.params.end());
    std::string key = t.name;
    for (const auto& n : inner) key += " " + n;
    // Deeper than a render may go, the render fails (template_renderer.h); the check stops.
    if (depth_ >= kMaxCallDepth || !visited_.insert(key).second) return;
    const std::string* caller_file = file_;
    file_ = &t.file;
    ++depth_;
    elements(t.body, inner);
    --depth_;
    file_ = caller_file;
  }

  const TemplateFile& t_;
  const Value& attributes_;
  const std::string* file_ = nullptr;
  int depth_ = 0;
  std::set<std::string> undefined_;
  std::set<std::string> visited_;
  std::optional<Status> error_;
};

}  // namespace

Result<std::vector<std::string>> check_template(const TemplateFile& t, const Value& attributes) {
  return Checker(t, attributes).run();
}

}  // namespace hub::templates
