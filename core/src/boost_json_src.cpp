// Boost.JSON compiled into the program instead of linked from Debian's libboost_json.so: the parser's
// handler calls (value_stack::push_*, string_impl, monotonic_resource) then bind inside one binary and
// inline, where through the shared library each went through the PLT (semantic interposition). Measured
// in bench/README.md ("Boost.JSON compiled in"). One translation unit, as Boost documents for src.hpp.
#include <boost/json/src.hpp>
