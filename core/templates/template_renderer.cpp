#include "core/templates/template_renderer.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/templates/template_check.h"

namespace hub::templates {

namespace {

// Names bound by a template call or an iteration; `parent` is the caller's (dynamic scope).
struct Scope {
  const Scope* parent = nullptr;
  std::vector<std::pair<std::string, ValuePtr>> vars;
};

// Appends TEXT; with INDENT, every line of it after the first that has text is indented.
void append_indented(std::string& out, const std::string& text, const std::string& indent) {
  if (indent.empty()) {
    out += text;
    return;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size() && text[i + 1] != '\n' && text[i + 1] != '\r')
      out += indent;
  }
}

class Renderer {
 public:
  Renderer(const TemplateFile& t, ValuePtr attributes)
      : t_(t), attributes_(std::move(attributes)) {}

  Result<std::string> run() {
    std::string out;
    Scope top;
    file_ = &t_.main.file;
    render_elements(t_.main.body, top, out);
    if (error_) return *error_;
    return out;
  }

 private:
  void fail(Position at, const std::string& what) {
    if (!error_)
      error_ = Status::error(*file_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.col) +
                             ": " + what);
  }

  void render_elements(const Elements& elements, const Scope& scope, std::string& out) {
    for (const Element& e : elements) {
      if (error_) return;
      const size_t before = out.size();
      switch (e.kind) {
        case Element::Kind::kText:
          out += e.text;
          break;
        case Element::Kind::kExpr:
          render_expr_element(e, scope, out);
          break;
        case Element::Kind::kIf:
          for (const Branch& b : e.branches) {
            if (!b.condition || test(*b.condition, scope)) {
              render_elements(b.body, scope, out);
              break;
            }
          }
          break;
      }
      written_ += out.size() - before;
      if (written_ > kMaxRenderedBytes) {
        fail(e.pos, "renders more than " + std::to_string(kMaxRenderedBytes >> 20) +
                        " MiB (templates that call or iterate each other over and over?)");
      }
    }
  }

  void render_expr_element(const Element& e, const Scope& scope, std::string& out) {
    const ValuePtr v = eval(*e.expr, scope);
    std::string separator;
    if (e.separator) separator = text_of(*eval(*e.separator, scope));
    std::optional<std::string> null_text;
    if (e.null_value) null_text = text_of(*eval(*e.null_value, scope));
    std::string text;
    write_value(*v, separator, null_text, text);
    append_indented(out, text, e.indent);
  }

  // A value as text: a list's items one after the other (nulls skipped, or NULL_TEXT), a
  // map's keys, as ST writes them.
  void write_value(const Value& v, const std::string& separator,
                   const std::optional<std::string>& null_text, std::string& out) {
    switch (v.kind) {
      case Value::Kind::kNull:
        if (null_text) out += *null_text;
        return;
      case Value::Kind::kText:
        out += v.text;
        return;
      case Value::Kind::kList: {
        // As ST4's writeIterator: a separator goes before an item once an item before it
        // wrote something, so items that render empty at the start leave no separator.
        bool wrote = false;
        for (const auto& item : v.items) {
          if (item->kind == Value::Kind::kNull && !null_text) continue;
          if (wrote) out += separator;
          const size_t before = out.size();
          write_value(*item, separator, null_text, out);
          if (out.size() > before) wrote = true;
        }
        return;
      }
      case Value::Kind::kMap: {
        bool first = true;
        for (const auto& kv : v.keys) {
          if (!first) out += separator;
          first = false;
          out += kv.first;
        }
        return;
      }
    }
  }

  std::string text_of(const Value& v) {
    std::string out;
    write_value(v, "", std::nullopt, out);
    return out;
  }

  bool test(const Condition& c, const Scope& scope) {
    switch (c.kind) {
      case Condition::Kind::kExpr:
        return is_true(eval(*c.expr, scope).get());
      case Condition::Kind::kNot:
        return !test(*c.left, scope);
      case Condition::Kind::kAnd:
        return test(*c.left, scope) && test(*c.right, scope);
      case Condition::Kind::kOr:
        return test(*c.left, scope) || test(*c.right, scope);
    }
    return false;
  }

  ValuePtr lookup(const std::string& name, const Scope& scope) {
    for (const Scope* s = &scope; s != nullptr; s = s->parent)
      for (const auto& [n, v] : s->vars)
        if (n == name) return v;
    return property(attributes_, name);
  }

  static ValuePtr property(const ValuePtr& base, const std::string& name) {
    if (base->kind != Value::Kind::kMap) return null_value();
    return base->get(name);
  }

  ValuePtr eval(const Expr& e, const Scope& scope) {
    if (error_) return null_value();
    switch (e.kind) {
      case Expr::Kind::kAttribute:
        return lookup(e.name, scope);
      case Expr::Kind::kProperty:
        return property(eval(*e.base, scope), e.name);
      case Expr::Kind::kIndirect:
        return property(eval(*e.base, scope), text_of(*eval(*e.index, scope)));
      case Expr::Kind::kString:
        return text_value(e.name);
      case Expr::Kind::kBool:
        return text_value(e.boolean ? "true" : "false", e.boolean);
      case Expr::Kind::kSubtemplate:
        return apply_sub(*e.sub, {}, scope, e.pos);
      case Expr::Kind::kCall: {
        std::vector<ValuePtr> args;
        for (const auto& a : e.args) args.push_back(eval(*a, scope));
        return call(e, std::move(args), scope);
      }
      case Expr::Kind::kMap:
        return map(e, scope);
    }
    return null_value();
  }

  ValuePtr map(const Expr& e, const Scope& scope) {
    const ValuePtr base = eval(*e.base, scope);
    std::vector<ValuePtr> elements;  // null items stay: ST4 maps them to null (see null=)
    if (base->kind == Value::Kind::kNull) return base;
    if (base->kind == Value::Kind::kList) {
      elements = base->items;
    } else if (base->kind == Value::Kind::kMap) {
      for (const auto& kv : base->keys) elements.push_back(text_value(kv.first));
    } else {
      elements.push_back(base);
    }
    auto out = std::make_shared<Value>();
    out->kind = Value::Kind::kList;
    size_t k = 0;  // the non-null items so far: <i0>, and which target takes the next
    for (const ValuePtr& element : elements) {
      if (error_) break;
      if (element->kind == Value::Kind::kNull) {
        out->items.push_back(element);
        continue;
      }
      const Expr& target = *e.args[k % e.args.size()];
      Scope iteration{
          &scope,
          {{"i", text_value(std::to_string(k + 1))}, {"i0", text_value(std::to_string(k))}}};
      ++k;
      if (target.kind == Expr::Kind::kSubtemplate) {
        out->items.push_back(apply_sub(*target.sub, element, iteration, target.pos));
      } else {
        std::vector<ValuePtr> args{element};
        for (const auto& a : target.args) args.push_back(eval(*a, scope));
        out->items.push_back(call(target, std::move(args), iteration));
      }
    }
    return out;
  }

  // Renders SUB with ELEMENT as its first parameter (or `it`); the others are null.
  ValuePtr apply_sub(const Subtemplate& sub, const ValuePtr& element, const Scope& scope,
                     Position at) {
    Scope inner{&scope, {}};
    if (sub.params.empty()) {
      if (element) inner.vars.emplace_back("it", element);
    } else {
      for (size_t k = 0; k < sub.params.size(); ++k)
        inner.vars.emplace_back(sub.params[k], k == 0 && element ? element : null_value());
    }
    return render_body(sub.body, inner, at);
  }

  ValuePtr render_body(const Elements& body, const Scope& scope, Position at) {
    if (depth_ >= kMaxCallDepth) {
      fail(at, "templates call each other more than " + std::to_string(kMaxCallDepth) +
                   " deep (a template that calls itself without end?)");
      return null_value();
    }
    ++depth_;
    std::string text;
    render_elements(body, scope, text);
    --depth_;
    return text_value(std::move(text));
  }

  ValuePtr call(const Expr& e, std::vector<ValuePtr> args, const Scope& scope) {
    if (is_builtin(e.name)) return builtin(e.name, args.empty() ? null_value() : args[0]);
    const auto found = t_.group.find(e.name);
    if (found == t_.group.end()) return null_value();  // check_template refused it
    const NamedTemplate& t = *found->second;
    Scope inner{&scope, {}};
    for (size_t k = 0; k < t.params.size(); ++k) {
      ValuePtr v;
      for (size_t a = 0; a < e.arg_names.size() && a < args.size(); ++a)
        if (!e.arg_names[a].empty() && e.arg_names[a] == t.params[k]) v = args[a];
      if (!v && k < args.size() && (k >= e.arg_names.size() || e.arg_names[k].empty())) v = args[k];
      if (!v) {
        const auto d = t.defaults.find(t.params[k]);
        v = d == t.defaults.end() ? null_value() : text_value(d->second->name);
      }
      inner.vars.emplace_back(t.params[k], v);
    }
    const std::string* caller_file = file_;
    file_ = &t.file;
    ValuePtr out = render_body(t.body, inner, e.pos);
    file_ = caller_file;
    return out;
  }

  static ValuePtr list_of(std::vector<ValuePtr> items) {
    auto v = std::make_shared<Value>();
    v->kind = Value::Kind::kList;
    v->items = std::move(items);
    return v;
  }

  // ST4 iterates a map over its keys, in its functions too.
  static ValuePtr keys_of(const Value& map) {
    std::vector<ValuePtr> keys;
    for (const auto& kv : map.keys) keys.push_back(text_value(kv.first));
    return list_of(std::move(keys));
  }

  ValuePtr builtin(const std::string& name, const ValuePtr& given) {
    const bool is_map = given->kind == Value::Kind::kMap;
    const ValuePtr arg =
        is_map && name != "length" && name != "strlen" && name != "trim" ? keys_of(*given) : given;
    const bool is_list = arg->kind == Value::Kind::kList;
    const auto& items = arg->items;
    if (name == "length") {
      if (arg->kind == Value::Kind::kNull) return text_value("0");
      if (is_list) return text_value(std::to_string(items.size()));
      if (arg->kind == Value::Kind::kMap) return text_value(std::to_string(arg->keys.size()));
      return text_value("1");
    }
    if (name == "strlen") return text_value(std::to_string(text_of(*arg).size()));
    if (name == "trim") {
      const std::string s = text_of(*arg);
      const size_t b = s.find_first_not_of(" \t\r\n");
      if (b == std::string::npos) return text_value("");
      return text_value(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
    }
    if (!is_list) {  // first, last, trunc, rest, reverse, strip of a single value
      if (name == "first" || name == "last" || name == "reverse" || name == "strip") return arg;
      return null_value();  // rest, trunc
    }
    if (items.empty()) return null_value();
    if (name == "first") return items.front();
    if (name == "last") return items.back();
    if (name == "rest") return list_of({items.begin() + 1, items.end()});
    if (name == "trunc") return list_of({items.begin(), items.end() - 1});
    if (name == "reverse") return list_of({items.rbegin(), items.rend()});
    std::vector<ValuePtr> kept;  // strip
    for (const auto& item : items)
      if (item->kind != Value::Kind::kNull) kept.push_back(item);
    return list_of(std::move(kept));
  }

  const TemplateFile& t_;
  ValuePtr attributes_;
  const std::string* file_ = nullptr;
  int depth_ = 0;
  size_t written_ = 0;  // by every render_elements, nested ones included
  std::optional<Status> error_;
};

}  // namespace

Result<std::string> render_template(const TemplateFile& t, const ValuePtr& attributes) {
  return Renderer(t, attributes).run();
}

}  // namespace hub::templates
