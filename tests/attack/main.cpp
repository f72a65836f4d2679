#define BOOST_TEST_MODULE attack_tests
#include <boost/test/unit_test.hpp>
