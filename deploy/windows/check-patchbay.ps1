<#
.SYNOPSIS
  Checks, on a Windows host, each part of patchbay that could not be verified on Linux
  (docs/windows.md, "Checking a Windows host").

.DESCRIPTION
  Each check prints PASS, FAIL or SKIP with its reason; -Json prints them as one JSON array of
  { check, status, reason } instead. The exit code is 1 when any check FAILs, else 0.

  Checks: node-version, client-doctor, file-version, registry, msi-product, msi-patch,
  service, service-recovery, data-dir-acl, process-tree-kill, client-timeout-kill.

  The detection checks compare what patchbay-client's `detect --rule ... --json` says with what
  Windows itself says (file VersionInfo, Get-ItemProperty, the WindowsInstaller.Installer COM
  object). Nothing is installed or changed; the process-tree check starts and ends its own
  `cmd /c ping -n 60 127.0.0.1`. The script talks to no server itself; `doctor` talks to the
  servers the client's config names.

  Run it as Administrator in a 64-bit PowerShell (Windows PowerShell 5.1 or PowerShell 7):
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File deploy\windows\check-patchbay.ps1

.EXAMPLE
  .\check-patchbay.ps1 -Config C:\ProgramData\patchbay\client.json -DataDir C:\ProgramData\patchbay\client -Json
#>
[CmdletBinding()]
param(
  # node.exe that runs the client (default: node on PATH, else the installer's location)
  [string]$Node = '',
  # the client's entry point
  [string]$ClientScript = 'C:\Program Files\patchbay\packages\client-daemon\bin\patchbay-client.js',
  # the client's config file
  [string]$Config = 'C:\ProgramData\patchbay\client.json',
  # the client's data directory (its ACL is checked)
  [string]$DataDir = 'C:\ProgramData\patchbay\client',
  # the Windows service's name
  [string]$ServiceName = 'patchbay-client',
  # the oldest Node the client supports (package.json "engines")
  [string]$MinNodeVersion = '20.19.0',
  # SKIP the service checks (a host, or a test, without the service installed)
  [switch]$SkipService,
  # the SID of the account the client runs as: the data directory it makes grants that account
  # too (default LocalSystem, S-1-5-18, as the service runs; a test run as a user passes its SID)
  [string]$ClientAccountSid = 'S-1-5-18',
  # print one JSON array instead of lines
  [switch]$Json
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$results = New-Object System.Collections.Generic.List[object]

function New-Outcome([string]$Status, [string]$Reason) {
  [pscustomobject]@{ Status = $Status; Reason = $Reason }
}

# Runs one check; an exception in it is a FAIL that says what went wrong.
function Invoke-Check([string]$Name, [scriptblock]$Body) {
  try {
    # the last object the body outputs is its outcome (anything else it wrote is ignored)
    $outcome = @(& $Body)[-1]
    if ($null -eq $outcome) { $outcome = New-Outcome 'FAIL' 'the check gave no outcome' }
  } catch {
    $outcome = New-Outcome 'FAIL' "error: $($_.Exception.Message)"
  }
  $results.Add([pscustomobject][ordered]@{ check = $Name; status = $outcome.Status; reason = $outcome.Reason })
}

# One argument quoted for a Windows command line (the rules Node's and MSVC's parsers follow):
# backslashes are literal except before a quote, where they and the quote are escaped.
function ConvertTo-CommandLineArgument([string]$Value) {
  if ($Value.Length -gt 0 -and $Value -notmatch '[\s"]') { return $Value }
  $out = New-Object System.Text.StringBuilder
  [void]$out.Append('"')
  $backslashes = 0
  foreach ($c in $Value.ToCharArray()) {
    if ($c -eq [char]'\') { $backslashes++; continue }
    if ($c -eq [char]'"') { [void]$out.Append('\' * (2 * $backslashes + 1)) }
    else { [void]$out.Append('\' * $backslashes) }
    [void]$out.Append($c)
    $backslashes = 0
  }
  [void]$out.Append('\' * (2 * $backslashes))
  [void]$out.Append('"')
  $out.ToString()
}

# Runs a program without a shell and returns its exit code, stdout and stderr. (Native commands
# called directly would turn stderr lines into errors under $ErrorActionPreference = 'Stop'.)
function Invoke-Native([string]$FilePath, [string[]]$Arguments, [int]$TimeoutSeconds = 120) {
  $info = New-Object System.Diagnostics.ProcessStartInfo
  $info.FileName = $FilePath
  $info.Arguments = ($Arguments | ForEach-Object { ConvertTo-CommandLineArgument $_ }) -join ' '
  $info.UseShellExecute = $false
  $info.RedirectStandardOutput = $true
  $info.RedirectStandardError = $true
  $info.CreateNoWindow = $true
  $process = [System.Diagnostics.Process]::Start($info)
  $stdout = $process.StandardOutput.ReadToEndAsync()
  $stderr = $process.StandardError.ReadToEndAsync()
  if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
    $process.Kill()
    throw "$FilePath $($info.Arguments) did not finish within $TimeoutSeconds s"
  }
  $process.WaitForExit()
  [pscustomobject]@{ ExitCode = $process.ExitCode; StdOut = $stdout.Result; StdErr = $stderr.Result }
}

function Invoke-Client([string[]]$Arguments) {
  if (-not (Test-Path -LiteralPath $ClientScript -PathType Leaf)) { throw "client not found: $ClientScript (-ClientScript)" }
  Invoke-Native $Node (@($ClientScript, '--config', $Config) + $Arguments)
}

# What patchbay-client decides for one detect rule: its { installed, evidence }.
function Get-Detection($Rule) {
  $ruleJson = ConvertTo-Json -InputObject $Rule -Compress -Depth 6
  $run = Invoke-Client @('detect', '--rule', $ruleJson, '--json')
  if ($run.ExitCode -ne 0) {
    throw "patchbay-client detect --rule $ruleJson exited $($run.ExitCode): $($run.StdErr.Trim())"
  }
  # assigned first: Windows PowerShell 5.1's ConvertFrom-Json passes an array on as one object
  $doc = ConvertFrom-Json -InputObject $run.StdOut
  $first = @($doc)[0]
  if ($null -eq $first -or -not $first.PSObject.Properties['installed']) {
    throw "patchbay-client detect --rule $ruleJson printed no { installed }: $($run.StdOut.Trim())"
  }
  $first
}

# Each case is @{ Label; Rule; Expected }; returns PASS, or FAIL naming the cases that differ.
function Compare-Detections([object[]]$Cases, [string]$What) {
  $wrong = @()
  foreach ($case in $Cases) {
    $got = Get-Detection $case.Rule
    if ([bool]$got.installed -ne $case.Expected) {
      $evidence = if ($got.PSObject.Properties['evidence']) { $got.evidence } else { 'no evidence given' }
      $wrong += "$($case.Label): patchbay says installed=$($got.installed) ($evidence), Windows says $($case.Expected)"
    }
  }
  if ($wrong.Count -gt 0) { return New-Outcome 'FAIL' ($wrong -join '; ') }
  New-Outcome 'PASS' "$($Cases.Count) rules agree with $What"
}

function Get-RegistryValue([string]$Path, [string]$Name) {
  $item = Get-ItemProperty -LiteralPath $Path -ErrorAction SilentlyContinue
  if ($null -eq $item -or -not $item.PSObject.Properties[$Name]) { return $null }
  $item.$Name
}

# Windows Installer products per machine, from the Uninstall keys (WindowsInstaller = 1).
function Get-MsiProductCodes {
  $roots = @(
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
    'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall'
  )
  foreach ($root in $roots) {
    foreach ($key in @(Get-ChildItem -LiteralPath $root -ErrorAction SilentlyContinue)) {
      if ($key.PSChildName -notmatch '^\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}$') { continue }
      if ((Get-RegistryValue $key.PSPath 'WindowsInstaller') -eq 1) { $key.PSChildName.ToUpperInvariant() }
    }
  }
}

function Get-ComProperty($Object, [string]$Name, [object[]]$Arguments) {
  $Object.GetType().InvokeMember($Name, [System.Reflection.BindingFlags]::GetProperty, $null, $Object, $Arguments)
}

# What a rule's version may be (docs/feed.schema.json dottedVersion): 1 to 4 parts of 0-65535.
function Test-DottedVersion([string]$Text) {
  if ($Text -notmatch '^(0|[1-9]\d{0,4})(\.(0|[1-9]\d{0,4})){0,3}$') { return $false }
  -not ($Text.Split('.') | Where-Object { [int]$_ -gt 65535 })
}

if ($Node -eq '') {
  $onPath = Get-Command node.exe -ErrorAction SilentlyContinue
  $Node = if ($onPath) { $onPath.Source } else { 'C:\Program Files\nodejs\node.exe' }
}

Invoke-Check 'node-version' {
  $run = Invoke-Native $Node @('--version')
  $text = $run.StdOut.Trim()
  if ($run.ExitCode -ne 0 -or $text -notmatch '^v(\d+\.\d+\.\d+)') { return New-Outcome 'FAIL' "$Node --version: '$text' (exit $($run.ExitCode))" }
  if ([version]$Matches[1] -lt [version]$MinNodeVersion) { return New-Outcome 'FAIL' "Node $text is older than $MinNodeVersion" }
  New-Outcome 'PASS' "Node $text at $Node (at least $MinNodeVersion)"
}

Invoke-Check 'client-doctor' {
  $run = Invoke-Client @('doctor', '--json')
  try { $doc = ConvertFrom-Json -InputObject $run.StdOut }
  catch { return New-Outcome 'FAIL' "doctor exit $($run.ExitCode), no JSON on stdout: $($run.StdErr.Trim())" }
  $failed = @($doc.checks | Where-Object { -not $_.ok } | ForEach-Object { "$($_.check): $($_.message)" })
  if ($run.ExitCode -ne 0 -or -not $doc.ok) { return New-Outcome 'FAIL' "doctor exit $($run.ExitCode): $($failed -join '; ')" }
  New-Outcome 'PASS' "doctor: $(@($doc.checks).Count) checks ok"
}

Invoke-Check 'file-version' {
  if ([Environment]::Is64BitOperatingSystem -and -not [Environment]::Is64BitProcess) {
    return New-Outcome 'SKIP' 'a 32-bit PowerShell sees SysWOW64 as System32: run the 64-bit one'
  }
  $files = @(
    "$env:SystemRoot\System32\kernel32.dll",
    "$env:SystemRoot\System32\ntdll.dll",
    "$env:SystemRoot\System32\cmd.exe",
    # 32-bit (PE32) files, on 64-bit Windows
    "$env:SystemRoot\SysWOW64\kernel32.dll",
    "$env:SystemRoot\SysWOW64\cmd.exe"
  ) | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf }
  $cases = @(foreach ($file in $files) {
    $info = (Get-Item -LiteralPath $file).VersionInfo
    $version = '{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
    @{ Label = "$file = $version"; Rule = @{ fileVersion = [ordered]@{ path = $file; op = '='; version = $version } }; Expected = $true }
    @{ Label = "$file < $version"; Rule = @{ fileVersion = [ordered]@{ path = $file; op = '<'; version = $version } }; Expected = $false }
  })
  $cases += @{ Label = 'a file that does not exist'; Rule = @{ fileVersion = [ordered]@{ path = "$env:SystemRoot\System32\patchbay-no-such-file.dll"; op = '<'; version = '1' } }; Expected = $false }
  Compare-Detections $cases '(Get-Item).VersionInfo'
}

Invoke-Check 'registry' {
  $key = 'HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
  $build = [string](Get-ItemProperty -LiteralPath "HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion" -Name CurrentBuild).CurrentBuild
  $cases = @(
    @{ Label = "$key exists"; Rule = @{ registry = [ordered]@{ key = $key } }; Expected = $true },
    @{ Label = "CurrentBuild = $build"; Rule = @{ registry = [ordered]@{ key = $key; value = 'CurrentBuild'; equals = $build } }; Expected = $true },
    @{ Label = "CurrentBuild = $build-other"; Rule = @{ registry = [ordered]@{ key = $key; value = 'CurrentBuild'; equals = "$build-other" } }; Expected = $false },
    @{ Label = "a value that does not exist"; Rule = @{ registry = [ordered]@{ key = $key; value = 'PatchbayNoSuchValue' } }; Expected = $false },
    @{ Label = "a key that does not exist"; Rule = @{ registry = [ordered]@{ key = "$key\PatchbayNoSuchKey" } }; Expected = $false }
  )
  if (Test-DottedVersion $build) {
    $cases += @{ Label = "CurrentBuild >= $build"; Rule = @{ registry = [ordered]@{ key = $key; value = 'CurrentBuild'; op = '>='; version = $build } }; Expected = $true }
    $cases += @{ Label = "CurrentBuild < $build"; Rule = @{ registry = [ordered]@{ key = $key; value = 'CurrentBuild'; op = '<'; version = $build } }; Expected = $false }
  }
  Compare-Detections $cases 'Get-ItemProperty'
}

$installer = $null
try { $installer = New-Object -ComObject WindowsInstaller.Installer } catch { $installer = $null }
$msiProducts = @(Get-MsiProductCodes | Sort-Object -Unique)

Invoke-Check 'msi-product' {
  if ($null -eq $installer) { return New-Outcome 'SKIP' 'the WindowsInstaller.Installer COM object is not available' }
  foreach ($code in $msiProducts) {
    # a product registered for another context (per user) has no per-machine ProductInfo
    try { $version = [string](Get-ComProperty $installer 'ProductInfo' @($code, 'VersionString')) } catch { continue }
    if (-not (Test-DottedVersion $version)) { continue }
    $cases = @(
      @{ Label = "$code = $version"; Rule = @{ msiProduct = [ordered]@{ productCode = $code; op = '='; version = $version } }; Expected = $true },
      @{ Label = "$code installed"; Rule = @{ msiProduct = [ordered]@{ productCode = $code } }; Expected = $true },
      @{ Label = "$code < $version"; Rule = @{ msiProduct = [ordered]@{ productCode = $code; op = '<'; version = $version } }; Expected = $false },
      @{ Label = 'a product code not installed'; Rule = @{ msiProduct = [ordered]@{ productCode = '{00000000-0000-4000-8000-00000000BA7C}' } }; Expected = $false }
    )
    return Compare-Detections $cases "ProductInfo('VersionString') of $code"
  }
  New-Outcome 'SKIP' "no per-machine MSI product with a dotted ProductVersion under the Uninstall keys ($($msiProducts.Count) MSI products)"
}

Invoke-Check 'msi-patch' {
  if ($null -eq $installer) { return New-Outcome 'SKIP' 'the WindowsInstaller.Installer COM object is not available' }
  foreach ($product in $msiProducts) {
    try { $patches = Get-ComProperty $installer 'Patches' @($product) } catch { continue }
    if ([int](Get-ComProperty $patches 'Count' @()) -eq 0) { continue }
    $patch = [string](Get-ComProperty $patches 'Item' @(0))
    $cases = @(
      @{ Label = "$patch on $product"; Rule = @{ msiPatch = [ordered]@{ patchCode = $patch; productCode = $product } }; Expected = $true },
      @{ Label = "$patch on any product"; Rule = @{ msiPatch = [ordered]@{ patchCode = $patch } }; Expected = $true },
      @{ Label = 'a patch code not applied'; Rule = @{ msiPatch = [ordered]@{ patchCode = '{00000000-0000-4000-8000-00000000BA7C}'; productCode = $product } }; Expected = $false }
    )
    return Compare-Detections $cases "Installer.Patches($product)"
  }
  New-Outcome 'SKIP' "no MSI patch applied to any of the $($msiProducts.Count) per-machine MSI products"
}

Invoke-Check 'service' {
  if ($SkipService) { return New-Outcome 'SKIP' '-SkipService given' }
  $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
  if ($null -eq $service) { return New-Outcome 'FAIL' "no service $ServiceName (deploy\windows\install-service.ps1 installs it)" }
  $problems = @()
  if ($service.StartName -ne 'LocalSystem') { $problems += "runs as $($service.StartName), not LocalSystem" }
  if ($service.State -ne 'Running') { $problems += "is $($service.State), not Running" }
  if ($service.StartMode -ne 'Auto') { $problems += "starts $($service.StartMode), not Auto" }
  if ($problems.Count -gt 0) { return New-Outcome 'FAIL' "$ServiceName $($problems -join ', ')" }
  New-Outcome 'PASS' "$ServiceName runs as LocalSystem, starts Auto, pid $($service.ProcessId)"
}

Invoke-Check 'service-recovery' {
  if ($SkipService) { return New-Outcome 'SKIP' '-SkipService given' }
  $run = Invoke-Native "$env:SystemRoot\System32\sc.exe" @('qfailure', $ServiceName)
  if ($run.ExitCode -ne 0) { return New-Outcome 'FAIL' "sc.exe qfailure $ServiceName exited $($run.ExitCode): $($run.StdOut.Trim())" }
  $restarts = @([regex]::Matches($run.StdOut, 'RESTART -- Delay = (\d+)') | ForEach-Object { $_.Groups[1].Value })
  if ($restarts.Count -eq 0) { return New-Outcome 'FAIL' "no RESTART recovery action for $ServiceName" }
  $flag = Invoke-Native "$env:SystemRoot\System32\sc.exe" @('qfailureflag', $ServiceName)
  $nonCrash = if ($flag.StdOut -match 'FAILURE_ACTIONS_ON_NONCRASH_FAILURES:\s*(\w+)') { $Matches[1] } else { 'unknown' }
  New-Outcome 'PASS' "restarts after $($restarts -join ', ') ms; on non-crash failures: $nonCrash"
}

Invoke-Check 'data-dir-acl' {
  if (-not (Test-Path -LiteralPath $DataDir -PathType Container)) { return New-Outcome 'FAIL' "no data directory $DataDir (-DataDir)" }
  $acl = Get-Acl -LiteralPath $DataDir
  $allowed = @('S-1-5-18', 'S-1-5-32-544', $ClientAccountSid) # SYSTEM, BUILTIN\Administrators, the client
  # as SIDs: an account name may not resolve, and names differ by the system's language
  $rules = $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])
  $others = @(foreach ($rule in $rules) {
      $sid = $rule.IdentityReference.Value
      if ($allowed -notcontains $sid) { "$sid $($rule.AccessControlType) $($rule.FileSystemRights)" }
    })
  if ($others.Count -gt 0) { return New-Outcome 'FAIL' "$DataDir also grants: $($others -join '; ')" }
  if (-not $acl.AreAccessRulesProtected) { return New-Outcome 'FAIL' "$DataDir inherits entries from its parent" }
  New-Outcome 'PASS' "$DataDir grants only SYSTEM, Administrators and the client's account ($ClientAccountSid), nothing inherited"
}

Invoke-Check 'process-tree-kill' {
  $cmd = "$env:SystemRoot\System32\cmd.exe"
  $parent = Start-Process -FilePath $cmd -ArgumentList '/c ping -n 60 127.0.0.1 >nul' -WindowStyle Hidden -PassThru
  $children = @()
  try {
    $deadline = (Get-Date).AddSeconds(15)
    # wait until ping.exe runs; every child then (ping.exe, maybe conhost.exe) must go
    while (-not ($children | Where-Object { $_.Name -eq 'PING.EXE' }) -and (Get-Date) -lt $deadline) {
      $children = @(Get-CimInstance -ClassName Win32_Process -Filter "ParentProcessId=$($parent.Id)" |
          ForEach-Object { [pscustomobject]@{ Id = [int]$_.ProcessId; Name = $_.Name.ToUpperInvariant() } })
      if (-not ($children | Where-Object { $_.Name -eq 'PING.EXE' })) { Start-Sleep -Milliseconds 200 }
    }
    if (-not ($children | Where-Object { $_.Name -eq 'PING.EXE' })) {
      return New-Outcome 'FAIL' "cmd.exe (pid $($parent.Id)) started no ping.exe within 15 s"
    }
    $kill = Invoke-Native "$env:SystemRoot\System32\taskkill.exe" @('/PID', [string]$parent.Id, '/T', '/F')
    $pids = @($parent.Id) + @($children | ForEach-Object { $_.Id })
    $deadline = (Get-Date).AddSeconds(10)
    do {
      $left = @(Get-Process -Id $pids -ErrorAction SilentlyContinue)
      if ($left.Count -gt 0) { Start-Sleep -Milliseconds 200 }
    } while ($left.Count -gt 0 -and (Get-Date) -lt $deadline)
    if ($left.Count -gt 0) {
      return New-Outcome 'FAIL' "taskkill /T /F (exit $($kill.ExitCode)) left: $(($left | ForEach-Object { "$($_.ProcessName) $($_.Id)" }) -join ', ')"
    }
    $names = ($children | ForEach-Object { "$($_.Name) $($_.Id)" }) -join ', '
    New-Outcome 'PASS' "taskkill /T /F ended cmd.exe $($parent.Id) and its children ($names)"
  } finally {
    $all = @($parent.Id) + @($children | ForEach-Object { $_.Id })
    Get-Process -Id $all -ErrorAction SilentlyContinue | Stop-Process -Force -ErrorAction SilentlyContinue
  }
}

# patchbay's own runner (the client package's runProcess, as an install's timeout uses it) on the
# same tree: a one-line ES module that runs it with a 3 s timeout and prints the command's pid.
$runnerProbe = "const { pathToFileURL } = await import('node:url'); " +
  "const { runProcess } = await import(pathToFileURL(process.argv[1]).href); let pid = null; " +
  "const result = await runProcess(process.argv.slice(2), { timeoutMs: 3000, killGraceMs: 1000, onSpawn: (p) => { pid = p; } }); " +
  "process.stdout.write(JSON.stringify({ pid, timedOut: result.timedOut, exitCode: result.exitCode }));"

Invoke-Check 'client-timeout-kill' {
  $entry = Join-Path (Split-Path -Parent (Split-Path -Parent $ClientScript)) 'dist\index.js'
  if (-not (Test-Path -LiteralPath $entry -PathType Leaf)) { return New-Outcome 'FAIL' "no $entry beside -ClientScript" }
  $run = Invoke-Native $Node @('--input-type=module', '-e', $runnerProbe, $entry, "$env:SystemRoot\System32\cmd.exe", '/c', 'ping -n 60 127.0.0.1 >nul')
  if ($run.ExitCode -ne 0) { return New-Outcome 'FAIL' "the runner probe exited $($run.ExitCode): $($run.StdErr.Trim())" }
  $doc = ConvertFrom-Json -InputObject $run.StdOut
  if (-not $doc.timedOut -or $null -eq $doc.pid) { return New-Outcome 'FAIL' "the command did not time out: $($run.StdOut)" }
  # a child keeps its parent's pid as ParentProcessId after the parent is gone
  $deadline = (Get-Date).AddSeconds(10)
  do {
    $left = @(Get-CimInstance -ClassName Win32_Process -Filter "ParentProcessId=$($doc.pid)")
    if ($left.Count -gt 0) { Start-Sleep -Milliseconds 200 }
  } while ($left.Count -gt 0 -and (Get-Date) -lt $deadline)
  if ($left.Count -gt 0) {
    $left | ForEach-Object { Stop-Process -Id $_.ProcessId -Force -ErrorAction SilentlyContinue }
    return New-Outcome 'FAIL' "after the timeout, children of cmd.exe $($doc.pid) still ran: $(($left | ForEach-Object { "$($_.Name) $($_.ProcessId)" }) -join ', ')"
  }
  New-Outcome 'PASS' "runProcess timed out cmd.exe $($doc.pid) after 3 s and no child of it remains"
}

if ($Json) {
  ConvertTo-Json -InputObject @($results) -Depth 4
} else {
  foreach ($result in $results) { '{0,-4}  {1,-17}  {2}' -f $result.status, $result.check, $result.reason }
}
if (@($results | Where-Object { $_.status -eq 'FAIL' }).Count -gt 0) { exit 1 }
exit 0
