<?php
// Reads composer.json (as data: nothing in it runs here) for bin/compile and
// checks its platform requirements against the stack's PHP, before Composer
// runs. Usage: php inspect.php composer.json
// Prints one line of facts, "<deps> <autoload> <compile>" (each yes or no):
//   deps      require names a package (not php, ext-*, lib-* or composer-*)
//   autoload  there is an autoload section (its autoloader must be dumped)
//   compile   there is a "compile" script (Heroku's build hook)
// Exits 1 with the reasons on stderr when the file or a requirement is bad.

// Composer's own libraries, as Debian's composer package installs them.
require '/usr/share/php/Composer/Semver/autoload.php';
require '/usr/share/php/Seld/JsonLint/autoload.php';

use Composer\Semver\Semver;
use Seld\JsonLint\JsonParser;

function fail(string ...$lines): never
{
    fwrite(STDERR, implode("\n", $lines) . "\n");
    exit(1);
}

/** Platform packages come with PHP itself; Composer never installs them. */
function isPlatformPackage(string $name): bool
{
    return preg_match('/^(php(-64bit|-ipv6|-zts|-debug)?|hhvm|composer(-plugin-api|-runtime-api)?|ext-.+|lib-.+)$/i', $name) === 1;
}

/** Extension names as composer spells them: lower case, spaces as dashes ("zend-opcache"). */
function loadedExtensions(): array
{
    $names = array_map(fn ($n) => strtolower(str_replace(' ', '-', $n)), get_loaded_extensions());
    sort($names);
    return $names;
}

function readComposerJson(string $file): array
{
    $text = (string) file_get_contents($file);
    $json = json_decode($text, true);
    if (json_last_error() !== JSON_ERROR_NONE) {
        // The linter Composer uses says where the error is.
        $where = (new JsonParser())->lint($text);
        fail("$file is not valid JSON:", $where ? $where->getMessage() : json_last_error_msg(), 'Fix it (`composer validate` checks it), commit and push again.');
    }
    if (!is_array($json) || array_is_list($json) && $json !== []) {
        fail("$file must hold a JSON object.");
    }
    $require = $json['require'] ?? [];
    if (!is_array($require) || array_is_list($require) && $require !== []) {
        fail("$file: \"require\" must be an object of package names and version constraints.");
    }
    return $json;
}

function checkPhpVersion(string $file, array $require): void
{
    if (!isset($require['php'])) return;
    $constraint = (string) $require['php'];
    try {
        $ok = Semver::satisfies(PHP_VERSION, $constraint);
    } catch (UnexpectedValueException $e) {
        fail("$file: \"require\": {\"php\": \"$constraint\"} is not a valid version constraint (" . $e->getMessage() . ').');
    }
    if (!$ok) {
        fail(
            "$file requires PHP \"$constraint\", but this stack has PHP " . PHP_VERSION . ' only.',
            'Change "require": {"php": ...} to accept PHP ' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION . ' (for example "^' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION . '"), run `composer update`, commit and push again.',
        );
    }
}

function checkExtensions(string $file, array $require): void
{
    $loaded = loadedExtensions();
    $missing = [];
    foreach (array_keys($require) as $name) {
        if (stripos($name, 'ext-') === 0 && !in_array(strtolower(substr($name, 4)), $loaded, true)) $missing[] = $name;
    }
    if ($missing) {
        fail(
            "$file requires " . implode(', ', $missing) . ', which this stack\'s PHP ' . PHP_VERSION . ' does not have.',
            'Extensions available: ' . implode(' ', $loaded) . '.',
        );
    }
}

$file = $argv[1] ?? 'composer.json';
$json = readComposerJson($file);
$require = $json['require'] ?? [];
checkPhpVersion($file, $require);
checkExtensions($file, $require);

$deps = array_filter(array_keys($require), fn ($name) => !isPlatformPackage((string) $name));
$yes = fn (bool $b) => $b ? 'yes' : 'no';
echo $yes($deps !== []), ' ', $yes(!empty($json['autoload'])), ' ', $yes(isset($json['scripts']['compile'])), "\n";
