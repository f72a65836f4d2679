#define BOOST_TEST_MODULE scaleout_tests
#include <boost/test/unit_test.hpp>
