#define BOOST_TEST_MODULE server_tests
#include <boost/test/unit_test.hpp>
