#define BOOST_TEST_MODULE upstream_tests
#include <boost/test/unit_test.hpp>
