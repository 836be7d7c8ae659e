// The official list of France's 18 regions and 101 departments, so that a directorates seed is
// checked even when the store holds only part of the territories (offline demo, tests).
#pragma once

#include <string_view>
#include <vector>

namespace passerelle::plugins::directorates {

struct OfficialRegion {
  std::string_view code, name;
};

struct OfficialDepartment {
  std::string_view code, name, region;
};

/// The 18 regions, by code.
const std::vector<OfficialRegion>& official_regions();
/// The 101 departments, by code ("01".."19", "2A", "2B", "21".."95", "971".."974", "976").
const std::vector<OfficialDepartment>& official_departments();
/// The department of that code, or null.
const OfficialDepartment* official_department(std::string_view code);

}  // namespace passerelle::plugins::directorates
