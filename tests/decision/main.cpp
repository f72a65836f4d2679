#define BOOST_TEST_MODULE decision_tests
#include <boost/test/unit_test.hpp>
