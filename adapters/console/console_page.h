// The page, compiled into the program from adapters/console/page/ (embed_page.cmake):
// plain HTML, JavaScript and CSS, nothing fetched at run time.
#pragma once

#include <string>

namespace hub::console {

const std::string& page_html();
const std::string& page_js();
const std::string& page_css();

}  // namespace hub::console
