// The single translation unit that compiles Asio, Asio.SSL and Beast (separate compilation):
// every other file includes only their declarations, which keeps a clean build fast on 2 cores.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
