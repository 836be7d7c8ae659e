# The plugin SDK: its headers (no Beast, OpenSSL or SQLite behind them), the ABI hash derived
# from them, the test kit, and the CMake package that plugins built elsewhere find:
#   find_package(Passerelle) -> Passerelle::sdk, Passerelle::testing, passerelle_add_plugin().
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PASSERELLE_SDK_INCLUDE ${CMAKE_SOURCE_DIR}/core/include)
set(PASSERELLE_GENERATED_INCLUDE ${CMAKE_BINARY_DIR}/generated/include)

include(${CMAKE_CURRENT_LIST_DIR}/PasserelleAbi.cmake)
passerelle_generate_abi(${PASSERELLE_SDK_INCLUDE} ${PASSERELLE_GENERATED_INCLUDE})

add_library(passerelle_sdk INTERFACE)
add_library(Passerelle::sdk ALIAS passerelle_sdk)
set_target_properties(passerelle_sdk PROPERTIES EXPORT_NAME sdk)
target_include_directories(passerelle_sdk INTERFACE
  $<BUILD_INTERFACE:${PASSERELLE_SDK_INCLUDE}>
  $<BUILD_INTERFACE:${PASSERELLE_GENERATED_INCLUDE}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(passerelle_sdk INTERFACE cxx_std_20)
# Every target shares Asio's per-thread cache of recycled blocks (its size is part of the
# layout of that cache): 8 slots for the handlers of I/O operations. Coroutine frames are not
# put there but in malloc's per-thread cache, which keeps blocks by size: Asio's hands a frame
# the first block large enough, so that with a few requests in flight small frames took the
# large ones' blocks and nine frames in ten were allocated anew (and none over 1 KiB is kept).
target_compile_definitions(passerelle_sdk INTERFACE BOOST_DLL_USE_STD_FS BOOST_ASIO_NO_DEPRECATED
                                                    BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8
                                                    BOOST_ASIO_DISABLE_AWAITABLE_FRAME_RECYCLING)
target_link_libraries(passerelle_sdk INTERFACE Boost::headers Boost::json)

# The test kit: a fake Host with an in-memory SQLite held to the gateway's table guard.
add_library(passerelle_testing STATIC ${CMAKE_SOURCE_DIR}/core/src/testing/fake_host.cpp
                                      ${CMAKE_SOURCE_DIR}/core/src/store/table_guard.cpp)
add_library(Passerelle::testing ALIAS passerelle_testing)
set_target_properties(passerelle_testing PROPERTIES EXPORT_NAME testing)
target_include_directories(passerelle_testing PRIVATE ${CMAKE_SOURCE_DIR}/core/src)
target_link_libraries(passerelle_testing PUBLIC passerelle_sdk SQLite::SQLite3 Threads::Threads)

set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/Passerelle)
install(DIRECTORY ${PASSERELLE_SDK_INCLUDE}/passerelle ${PASSERELLE_GENERATED_INCLUDE}/passerelle
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT sdk)
install(TARGETS passerelle_sdk passerelle_testing EXPORT PasserelleTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)
install(EXPORT PasserelleTargets NAMESPACE Passerelle:: DESTINATION ${cmake_dir} COMPONENT sdk)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/PasserelleConfig.cmake.in
  ${CMAKE_BINARY_DIR}/PasserelleConfig.cmake INSTALL_DESTINATION ${cmake_dir})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/PasserelleConfigVersion.cmake
  VERSION 0.8.0 COMPATIBILITY ExactVersion)
install(FILES ${CMAKE_BINARY_DIR}/PasserelleConfig.cmake
              ${CMAKE_BINARY_DIR}/PasserelleConfigVersion.cmake
              ${CMAKE_SOURCE_DIR}/cmake/PasserellePlugin.cmake
        DESTINATION ${cmake_dir} COMPONENT sdk)
