# passerelle_generate_abi(SDK_INCLUDE OUT_INCLUDE): writes OUT_INCLUDE/passerelle/abi.hpp, the
# SDK's ABI hash (see core/include/passerelle/version.hpp), and sets PASSERELLE_ABI_HASH.
#
# The ABI is the SDK headers' code: comments and spacing left out, so that a comment changes
# nothing, while any change of a type, member or virtual function gives another hash. The test
# kit (testing.hpp) is no part of it: a plugin never loads it into the gateway.
function(passerelle_generate_abi sdk_include out_include)
  file(GLOB sdk_headers CONFIGURE_DEPENDS ${sdk_include}/passerelle/*.hpp)
  list(FILTER sdk_headers EXCLUDE REGEX "/testing\\.hpp$")
  list(SORT sdk_headers)
  set(abi_text "")
  foreach(header ${sdk_headers})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${header})
    file(READ ${header} code)
    string(REGEX REPLACE "//[^\n]*" "" code "${code}")
    string(REGEX REPLACE "[ \t\r\n]+" " " code "${code}")
    get_filename_component(header_name ${header} NAME)
    string(APPEND abi_text "${header_name}:${code}\n")
  endforeach()
  string(SHA256 abi_hash "${abi_text}")
  string(SUBSTRING ${abi_hash} 0 16 hash)
  set(PASSERELLE_ABI_HASH ${hash} PARENT_SCOPE)
  file(CONFIGURE OUTPUT ${out_include}/passerelle/abi.hpp CONTENT
"// Generated when the gateway is built: the hash of the SDK headers' code (see version.hpp).
#pragma once
#define PASSERELLE_ABI_HASH \"${hash}\"
")
  message(STATUS "Passerelle SDK ABI ${hash}")
endfunction()
