#define BOOST_TEST_MODULE passerelle_unit
#include <boost/test/unit_test.hpp>
