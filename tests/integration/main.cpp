#define BOOST_TEST_MODULE passerelle_integration
#include <boost/test/unit_test.hpp>
