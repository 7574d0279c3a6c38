// Expressions and conditions of the template parser (template_parser_impl.h): attribute
// paths, strings, calls, anonymous templates, maps (a:b()), and the options after ';'.
#include "core/templates/template_parser_impl.h"

namespace hub::templates::detail {

std::unique_ptr<Condition> Parser::parse_or() {
  int steps = 0;
  auto left = parse_and();
  while (!failed()) {
    skip_space();
    if (!(peek() == '|' && peek(1) == '|') || !step(steps)) break;
    advance();
    advance();
    auto c = std::make_unique<Condition>();
    c->kind = Condition::Kind::kOr;
    c->left = std::move(left);
    c->right = parse_and();
    left = std::move(c);
  }
  return left;
}
std::unique_ptr<Condition> Parser::parse_and() {
  int steps = 0;
  auto left = parse_not();
  while (!failed()) {
    skip_space();
    if (!(peek() == '&' && peek(1) == '&') || !step(steps)) break;
    advance();
    advance();
    auto c = std::make_unique<Condition>();
    c->kind = Condition::Kind::kAnd;
    c->left = std::move(left);
    c->right = parse_not();
    left = std::move(c);
  }
  return left;
}
std::unique_ptr<Condition> Parser::parse_not() {
  const Nest nest(*this);
  if (failed()) return nullptr;
  skip_space();
  auto c = std::make_unique<Condition>();
  if (peek() == '!') {
    advance();
    c->kind = Condition::Kind::kNot;
    c->left = parse_not();
    return c;
  }
  if (peek() == '(') {
    advance();
    c = parse_or();
    if (!failed()) expect(')', "')'");
    return c;
  }
  c->expr = parse_expr();
  return c;
}

ExprPtr Parser::make(Expr::Kind kind, Position at) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->pos = at;
  return e;
}

ExprPtr Parser::parse_expr() {
  int steps = 0;
  auto e = parse_chain();
  while (!failed()) {
    skip_space();
    if (peek() != ':' || !step(steps)) break;
    const Position at = pos_;
    advance();
    auto m = make(Expr::Kind::kMap, at);
    m->base = std::move(e);
    do {
      m->args.push_back(parse_target());
    } while (!failed() && accept(','));
    e = std::move(m);
  }
  return e;
}

ExprPtr Parser::parse_target() {
  skip_space();
  if (peek() == '{') return parse_subtemplate();
  const Position at = pos_;
  if (!is_id_start(peek())) {
    expected("a template after ':' ({x | ...} or name())");
    return nullptr;
  }
  auto call = make(Expr::Kind::kCall, at);
  call->name = read_id();
  if (!expect('(', "'(' after the template name " + call->name)) return nullptr;
  parse_args(*call);
  return call;
}

ExprPtr Parser::parse_chain() {
  auto e = parse_primary();
  int steps = 0;
  while (!failed() && peek() == '.' && step(steps)) {
    const Position at = pos_;
    advance();
    if (peek() == '(') {
      advance();
      auto ind = make(Expr::Kind::kIndirect, at);
      ind->base = std::move(e);
      ind->index = parse_expr();
      if (!failed()) expect(')', "')' after .(expression");
      e = std::move(ind);
    } else if (is_id_start(peek())) {
      auto prop = make(Expr::Kind::kProperty, at);
      prop->base = std::move(e);
      prop->name = read_id();
      e = std::move(prop);
    } else {
      expected("a property name or '(' after '.'");
    }
  }
  return e;
}

ExprPtr Parser::parse_primary() {
  const Nest nest(*this);
  if (failed()) return nullptr;
  skip_space();
  const Position at = pos_;
  const char c = peek();
  if (c == '"') return parse_string();
  if (c == '{') return parse_subtemplate();
  if (c == '(') {
    advance();
    auto e = parse_expr();
    if (!failed()) expect(')', "')'");
    return e;
  }
  if (!is_id_start(c)) {
    expected("an attribute name, a string, '{' or '('");
    return nullptr;
  }
  const std::string id = read_id();
  if (id == "true" || id == "false") {
    auto b = make(Expr::Kind::kBool, at);
    b->boolean = id == "true";
    return b;
  }
  if (peek() == '(') {
    advance();
    auto call = make(Expr::Kind::kCall, at);
    call->name = id;
    parse_args(*call);
    return call;
  }
  auto a = make(Expr::Kind::kAttribute, at);
  a->name = id;
  return a;
}

// After '(': arguments, positional or all by name, up to ')'.
void Parser::parse_args(Expr& call) {
  skip_space();
  if (accept(')')) return;
  do {
    skip_space();
    std::string name;
    const size_t save_i = i_;
    const Position save_pos = pos_;
    if (is_id_start(peek())) {
      name = read_id();
      skip_space();
      if (peek() == '=') {
        advance();
      } else {
        name.clear();
        i_ = save_i;
        pos_ = save_pos;
      }
    }
    call.arg_names.push_back(name);
    call.args.push_back(parse_expr());
  } while (!failed() && accept(','));
  if (!failed()) expect(')', "',' or ')' in the arguments of " + call.name + "()");
}

ExprPtr Parser::parse_string() {
  auto s = make(Expr::Kind::kString, pos_);
  advance();  // '"'
  while (!eof() && peek() != '"' && peek() != '\n') {
    char c = peek();
    if (c == '\\') {
      advance();
      const char esc = peek();
      c = esc == 'n' ? '\n' : esc == 't' ? '\t' : esc == 'r' ? '\r' : esc;
      if (eof()) break;
    }
    s->name += c;
    advance();
  }
  if (peek() != '"') {
    expected("'\"' to end the string");
    return nullptr;
  }
  advance();
  return s;
}

// ; separator="...", null="..." (and ST's other options, refused by name).
void Parser::parse_options(Element& e) {
  while (!failed() && accept(';')) {
    skip_space();
    const Position at = pos_;
    const std::string name = read_id();
    if (name != "separator" && name != "null") {
      fail(at, "unknown option '" + name + "': expected separator or null");
      return;
    }
    if (!expect('=', "'=' after " + name)) return;
    auto value = parse_expr();
    (name == "separator" ? e.separator : e.null_value) = std::move(value);
    while (!failed() && accept(',')) {
      skip_space();
      const Position at2 = pos_;
      const std::string n2 = read_id();
      if (n2 != "separator" && n2 != "null") {
        fail(at2, "unknown option '" + n2 + "': expected separator or null");
        return;
      }
      if (!expect('=', "'=' after " + n2)) return;
      (n2 == "separator" ? e.separator : e.null_value) = parse_expr();
    }
  }
}
}  // namespace hub::templates::detail
