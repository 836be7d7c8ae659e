# passerelle_add_plugin(NAME src...): a plugin shared library built the way the host expects,
# in this repository or elsewhere against the installed SDK (find_package(Passerelle)).
if(NOT DEFINED PASSERELLE_PLUGIN_DIR)
  set(PASSERELLE_PLUGIN_DIR ${CMAKE_BINARY_DIR}/modules)
endif()

if(NOT TARGET all_plugins)
  add_custom_target(all_plugins)
endif()

function(passerelle_add_plugin name)
  # Installed SDK: the gateway refuses a plugin of another compiler; say so now, not at load.
  if(DEFINED PASSERELLE_CXX_COMPILER_ID AND
     NOT (CMAKE_CXX_COMPILER_ID STREQUAL PASSERELLE_CXX_COMPILER_ID AND
          CMAKE_CXX_COMPILER_VERSION VERSION_EQUAL PASSERELLE_CXX_COMPILER_VERSION))
    message(FATAL_ERROR "plugin ${name}: the gateway was built with "
            "${PASSERELLE_CXX_COMPILER_ID} ${PASSERELLE_CXX_COMPILER_VERSION}, this build uses "
            "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}: the gateway would refuse "
            "the plugin (build fingerprint). Use the same compiler (CMAKE_CXX_COMPILER).")
  endif()
  add_library(plugin_${name} MODULE ${ARGN})
  add_dependencies(all_plugins plugin_${name})
  set_target_properties(plugin_${name} PROPERTIES
    OUTPUT_NAME passerelle-${name}
    PREFIX lib
    LIBRARY_OUTPUT_DIRECTORY ${PASSERELLE_PLUGIN_DIR}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # -fno-gnu-unique: g++ otherwise emits STB_GNU_UNIQUE symbols that make dlclose a no-op.
  target_compile_options(plugin_${name} PRIVATE -fno-gnu-unique)
  target_link_options(plugin_${name} PRIVATE -Wl,--no-undefined)
  target_link_libraries(plugin_${name} PRIVATE Passerelle::sdk)
endfunction()

# Makes every migrations/*.sql of the plugin includable as a raw string literal:
#   #include "migrations/001_items.inc"   ->   R"sql(...)sql"
function(passerelle_embed_migrations name)
  file(GLOB sql_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/migrations/*.sql)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/generated)
  foreach(sql ${sql_files})
    get_filename_component(stem ${sql} NAME_WE)
    # Edited, it is read again at the next build (the build re-runs CMake).
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${sql})
    file(READ ${sql} content)
    file(CONFIGURE OUTPUT ${out_dir}/migrations/${stem}.inc
         CONTENT "R\"passerelle_sql(${content})passerelle_sql\"\n" @ONLY)
  endforeach()
  if(TARGET plugin_${name})
    target_include_directories(plugin_${name} PRIVATE ${out_dir})
  endif()
endfunction()
