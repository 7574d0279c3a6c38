# Writes OUTPUT, a C++ file defining page_html(), page_js() and page_css() (console_page.h)
# from the files of DIR, each as a raw string literal.
#   cmake -DDIR=.../page -DOUTPUT=.../console_page.cpp -P embed_page.cmake
set(text "// Generated from adapters/console/page/ by embed_page.cmake: do not edit.\n")
string(APPEND text "#include \"console/console_page.h\"\n\nnamespace hub::console {\n")
foreach(pair "page_html;index.html" "page_js;console.js" "page_css;console.css")
  list(GET pair 0 function)
  list(GET pair 1 file)
  file(READ "${DIR}/${file}" content)
  string(FIND "${content}" ")hubpage\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} holds the literal's end marker")
  endif()
  string(APPEND text "\nconst std::string& ${function}() {\n"
         "  static const std::string text = R\"hubpage(${content})hubpage\";\n"
         "  return text;\n}\n")
endforeach()
string(APPEND text "\n}  // namespace hub::console\n")
file(WRITE "${OUTPUT}.tmp" "${text}")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
